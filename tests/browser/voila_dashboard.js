// Voila: the dashboard as an app. Wait for it to render, move a slider, press step, check the
// plot and summary changed and no error is shown; screenshot.
// Usage: node voila_dashboard.js --url http://127.0.0.1:PORT/?token=T --screenshot out.png
'use strict';

const { run, dashboardState, waitForText, setSliderReadout } = require('./common');

run(async (page, args) => {
  const t = args.timeout;
  await page.goto(args.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.s3kit-dashboard', { timeout: t });
  await waitForText(page, '.s3kit-status', /ready/, t);
  await page.waitForSelector('.s3kit-plots img', { timeout: t });
  await page.waitForSelector('.s3kit-memory', { timeout: t });
  const before = await dashboardState(page);

  await setSliderReadout(page, 's3kit-emotion-decay', 0.9);
  await waitForText(page, '.s3kit-emotion-decay .widget-readout', /^0\.90$/, t);
  await page.click('button.s3kit-step');
  await waitForText(page, '.s3kit-summary', /step 1\//, t);
  await waitForText(page, '.s3kit-status', /step 1 of \d+ done/, t);
  // a second step: the app keeps responding
  await page.click('button.s3kit-step');
  await waitForText(page, '.s3kit-summary', /step 2\//, t);
  const after = await dashboardState(page);

  const errors = await page.evaluate(() => [...document.querySelectorAll(
    '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output.jp-mod-error')]
    .map((e) => e.innerText.slice(0, 500)));
  await page.screenshot({ path: args.screenshot, fullPage: true });
  return { before, after, errors, prompts: [], kernel_status: 'n/a' };
});
