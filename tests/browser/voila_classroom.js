// Voila: the classroom app as a teacher opens it. Wait for it, move the emotion-decay slider and
// read back what the kernel's new run was built with, press step and record the status line
// while the step runs (live progress), then let the caller check console errors and requests
// to other hosts (common.js refuses and records those).
// Usage: node voila_classroom.js --url http://127.0.0.1:PORT/?token=T --screenshot out.png
'use strict';

const { run, dashboardState, waitForText, setSliderReadout } = require('./common');

run(async (page, args) => {
  const t = args.timeout;
  const t0 = Date.now();
  await page.goto(args.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.s3kit-dashboard', { timeout: t });
  await waitForText(page, '.s3kit-status', /ready/, t);
  const loadedS = (Date.now() - t0) / 1000;
  await page.waitForSelector('.s3kit-plots img', { timeout: t });
  const before = await dashboardState(page);

  await setSliderReadout(page, 's3kit-emotion-decay', 0.9);
  await waitForText(page, '.s3kit-run-config', /emotion decay 0\.90/, t);
  await waitForText(page, '.s3kit-status', /ready/, t);
  const runConfig = await page.innerText('.s3kit-run-config');

  // step 1, then step 2: record every status line shown while a step runs
  const progress = [];
  const stepStart = Date.now();
  for (const k of [1, 2]) {
    await page.click('button.s3kit-step');
    const deadline = Date.now() + t;
    for (;;) {
      const status = await page.innerText('.s3kit-status');
      if (/decisions \d+ of \d+/.test(status) && !progress.includes(status)) {
        progress.push(status);
      }
      const summary = await page.innerText('.s3kit-summary');
      if (new RegExp(`step ${k}/`).test(summary)
          && new RegExp(`step ${k} of \\d+ done`).test(status)) break;
      if (Date.now() > deadline) throw new Error(`step ${k} did not finish; last: ${status}`);
      await page.waitForTimeout(100);
    }
  }
  const stepsS = (Date.now() - stepStart) / 1000;
  const after = await dashboardState(page);
  const errors = await page.evaluate(() => [...document.querySelectorAll(
    '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output.jp-mod-error')]
    .map((e) => e.innerText.slice(0, 500)));
  await page.screenshot({ path: args.screenshot, fullPage: true });
  return { before, after, errors, progress, run_config: runConfig, loaded_s: loadedS,
    steps_s: stepsS };
});
