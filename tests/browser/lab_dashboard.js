// JupyterLab: open the dashboard notebook, run all cells, move a slider, press step, check the
// plot and summary changed, the kernel is idle and no cell shows an error; screenshot.
// Usage: node lab_dashboard.js --url http://127.0.0.1:PORT/lab/tree/dashboard.ipynb?token=T
//                              --screenshot out.png [--timeout ms]
'use strict';

const { run, dashboardState, waitForText, setSliderReadout } = require('./common');

run(async (page, args) => {
  const t = args.timeout;
  await page.goto(args.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.jp-NotebookPanel .jp-Cell', { timeout: t });
  await page.waitForSelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', { timeout: t });
  // the kernel is connected once the status bar names it as idle
  await page.waitForFunction(() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some((e) => /\| Idle/.test(e.innerText)), null, { timeout: t });

  // Run > Run All Cells (the menu a user would use); retry if the kernel was not yet listening
  let started = false;
  for (let attempt = 0; attempt < 3 && !started; attempt += 1) {
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
    started = await page.waitForFunction(() => [...document.querySelectorAll(
      '.jp-CodeCell .jp-InputArea-prompt')].some((e) => /\[(\*|\d+)\]/.test(e.innerText)),
    null, { timeout: 15000 }).then(() => true, () => false);
  }
  if (!started) throw new Error('Run All Cells did not start any cell');

  await page.waitForSelector('.s3kit-dashboard', { timeout: t });
  await waitForText(page, '.s3kit-status', /ready/, t);
  await waitForText(page, '.s3kit-summary', /step 0\//, t);
  await page.waitForSelector('.s3kit-plots img', { timeout: t });
  await page.waitForSelector('.s3kit-memory', { timeout: t }); // the inspector tabs cell ran
  const before = await dashboardState(page);

  await page.locator('.s3kit-dashboard').scrollIntoViewIfNeeded();
  await setSliderReadout(page, 's3kit-emotion-decay', 0.9);
  await waitForText(page, '.s3kit-emotion-decay .widget-readout', /^0\.90$/, t);
  await page.click('button.s3kit-step');
  await waitForText(page, '.s3kit-summary', /step 1\//, t);
  await waitForText(page, '.s3kit-status', /step 1 of \d+ done/, t);
  await page.waitForSelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', { timeout: t });
  const after = await dashboardState(page);

  const cells = await page.evaluate(() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
      .map((e) => e.innerText.trim());
    const errors = [...document.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map((e) => e.innerText.slice(0, 500));
    const kernel = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return { prompts, errors, kernel_status: kernel && kernel.getAttribute('data-status') };
  });
  // decline the "Jupyter news" notification so it does not cover the dashboard
  const no = page.locator('button:text-is("No")');
  if (await no.count()) await no.first().click().catch(() => {});
  await page.locator('.s3kit-summary').scrollIntoViewIfNeeded();
  await page.screenshot({ path: args.screenshot });
  return { before, after, ...cells };
});
