// Shared helpers of the s3kit browser tests: launch Debian's Chromium with playwright-core,
// read the dashboard's state, report one JSON line on stdout.
'use strict';

const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = [
  '--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--disable-dev-shm-usage',
];

function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) {
    out[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  for (const key of ['url', 'screenshot']) {
    if (!out[key]) throw new Error(`missing --${key}`);
  }
  out.timeout = Number(out.timeout || 90000);
  return out;
}

async function launch(timeout) {
  const browser = await chromium.launch({
    executablePath: process.env.S3KIT_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  // the machine is treated as offline: a request to another host is recorded and refused
  const externalRequests = [];
  await context.route(/^https?:\/\//, (route) => {
    const url = new URL(route.request().url());
    if (['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return route.continue();
    externalRequests.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  return { browser, page, consoleErrors, externalRequests };
}

// Snapshot of what a user sees of the dashboard.
async function dashboardState(page) {
  return page.evaluate(() => {
    const text = (sel) => {
      const el = document.querySelector(sel);
      return el ? el.innerText.trim() : null;
    };
    const img = (sel) => {
      const el = document.querySelector(`${sel} img`);
      return el ? el.getAttribute('src') : null;
    };
    return {
      summary: text('.s3kit-summary'),
      status: text('.s3kit-status'),
      plot: img('.s3kit-plots'),
      network: img('.s3kit-network'),
      decay: text('.s3kit-emotion-decay .widget-readout'),
    };
  });
}

async function waitForText(page, selector, pattern, timeout) {
  await page.waitForFunction(
    ([sel, src]) => {
      const el = document.querySelector(sel);
      return el && new RegExp(src).test(el.innerText);
    },
    [selector, pattern.source],
    { timeout },
  );
}

// Set a FloatSlider by typing into its editable readout (what a user can do too).
async function setSliderReadout(page, cssClass, value) {
  const readout = page.locator(`.${cssClass} .widget-readout`);
  await readout.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(String(value));
  await page.keyboard.press('Enter');
}

async function run(main) {
  const args = parseArgs(process.argv);
  const t0 = Date.now();
  let ctx;
  try {
    ctx = await launch(args.timeout);
    const result = await main(ctx.page, args);
    result.console_errors = ctx.consoleErrors;
    result.external_requests = ctx.externalRequests;
    result.seconds = (Date.now() - t0) / 1000;
    process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
    await ctx.browser.close();
  } catch (err) {
    if (ctx) {
      try {
        await ctx.page.screenshot({ path: args.screenshot.replace(/\.png$/, '-failed.png'),
          fullPage: true });
      } catch (e) { /* best effort */ }
      await ctx.browser.close().catch(() => {});
    }
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(err && err.stack || err),
      console_errors: ctx ? ctx.consoleErrors : [],
      external_requests: ctx ? ctx.externalRequests : [], seconds: (Date.now() - t0) / 1000 })}\n`);
    process.exitCode = 1;
  }
}

module.exports = { run, dashboardState, waitForText, setSliderReadout };
