// What every browser scenario needs: headless Chromium (the system's
// /usr/bin/chromium) with a fake camera and microphone, pages that log their
// errors and collect Content-Security-Policy violations, and screenshots.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export { chromium };

export const launchArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the browser for `scenario`. `shots` is a directory for 1280×800
 * screenshots (none when unset).
 */
export async function startDriver(scenario, shots) {
  const t0 = Date.now();
  const log = (...a) => console.error(`[e2e ${scenario} +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: launchArgs });
  // What the Content-Security-Policy blocked on any page: it must be nothing.
  const cspViolations = [];

  /** A page in a browser context of its own (its own cookies and storage). */
  async function newPage(name) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => {
      log(`${name} page error:`, e.message);
      if (/Content.Security.Policy/i.test(e.message)) cspViolations.push(`${name}: ${e.message}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) {
        cspViolations.push(`${name}: ${m.text()}`);
        log(`${name} blocked by the CSP: ${m.text()}`);
      }
    });
    page.on('response', (r) => { if (r.status() >= 400) log(`${name}: ${r.status()} ${r.request().method()} ${r.url()}`); });
    page.on('requestfailed', (r) => log(`${name}: failed ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
    return { context, page };
  }

  async function shot(page, name) {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`) });
  }

  return { browser, log, newPage, shot, cspViolations };
}
