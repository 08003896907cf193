// Host accounts in headless Chromium, against a `zencast up` in accounts mode
// with no account yet, in two phases (between them the test adds a second
// host with `zencast hosts add`, which would end the first-run set-up if it
// came first):
// - PHASE=first: the first host opens the console's first-run link, creates
//   the account (and sees its API key once), records a short session from the
//   dashboard's New session, finds it on the dashboard with its files,
//   renders it again and signs out.
// - PHASE=second: the second host signs in in a browser of its own and sees
//   nothing of the first; the first signs in again and deletes the recording.
//
// Environment: ZENCAST_URL (the api), PHASE; first: FIRST_RUN_LINK,
// RECORD_SECONDS (default 12), DOWNLOAD_TO (where to write the final.mp4 the
// dashboard links to), SCREENSHOTS_DIR (optional: setup.png, dashboard.png,
// signin.png); second: ROOM_ID, FINAL_URL, SECOND_EMAIL, SECOND_PASSWORD,
// SECOND_API_KEY.
// Prints one line `ZENCAST_RESULT {json}` on success; exits 1 on any failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sleep, startDriver } from './driver.mjs';

const base = process.env.ZENCAST_URL;
const recordMs = Number(process.env.RECORD_SECONDS || 12) * 1000;
const email = 'host@example.org';
const password = 'a long enough password';
const phase = process.env.PHASE || 'first';
const { browser, log, newPage, shot, cspViolations } = await startDriver(`accounts ${phase}`, process.env.SCREENSHOTS_DIR);

const host = await newPage('host');
const second = await newPage('second host');
const result = {};
const text = async (page, selector, options) => (await page.waitForSelector(selector, options)).textContent();
const row = (roomId) => `.recording[data-room-id="${roomId}"]`;

/** Before any account: the home page says where the first-run link is. */
async function firstRun() {
  await host.page.goto(`${base}/`);
  result.firstRunCard = await text(host.page, '#needs-setup');
  await host.page.goto(process.env.FIRST_RUN_LINK);
  await host.page.fill('#setup-email', email);
  // A password the api refuses: its reason, in the page.
  await host.page.fill('#setup-password', 'short');
  await host.page.fill('#setup-password2', 'short');
  await host.page.click('#setup-submit');
  result.weakPassword = await text(host.page, '.problem[role="alert"]');
  await host.page.fill('#setup-password', password);
  await host.page.fill('#setup-password2', password);
  await shot(host.page, 'setup');
  await host.page.click('#setup-submit');
  result.apiKey = (await text(host.page, '#api-key')).trim();
  result.apiKeyNote = await text(host.page, '#setup-done');
  log('account created');
  await host.page.click('#to-dashboard');
  await host.page.waitForURL(/\/dashboard$/);
  result.signedInAs = await text(host.page, '#signed-in-as');
  result.emptyDashboard = await text(host.page, '#no-recordings');
}

/** From the dashboard: a session of `recordMs` with the default 10 s chunks. */
async function record() {
  await host.page.click('#new-session');
  await host.page.waitForURL(`${base}/`);
  await host.page.fill('#title', 'Accounts episode');
  await host.page.fill('#host-name', 'Hana Host');
  await host.page.waitForFunction(() => document.querySelector('#preview')?.videoWidth > 0);
  await host.page.click('#create-session');
  await host.page.waitForURL(/\/studio\//);
  const roomId = host.page.url().split('/studio/')[1];
  console.log(`ZENCAST_ROOM ${roomId}`);
  result.roomId = roomId;
  log('room', roomId);
  await host.page.click('#start-recording');
  await host.page.waitForSelector('section.studio[data-recording="true"]');
  await sleep(recordMs);
  await host.page.click('#stop-recording');
  await host.page.waitForURL(/\/finish\//);
  await host.page.waitForSelector('[data-uploads-done="true"]', { timeout: 60000 });
  log('uploads finished');
  return roomId;
}

/** The recording on the dashboard: completed, with its files; one downloaded. */
async function dashboard(roomId) {
  await host.page.click('#nav-dashboard');
  await host.page.waitForURL(/\/dashboard$/);
  // The dashboard refreshes itself until the render is done.
  await host.page.waitForFunction((sel) => {
    const r = document.querySelector(sel);
    return r?.dataset.status === 'completed' && r.dataset.renderStatus === 'completed'
      && [...r.querySelectorAll('a.download')].some((a) => a.textContent === 'final.mp4');
  }, row(roomId), { timeout: 240000, polling: 250 });
  const facts = await host.page.$eval(row(roomId), (r) => ({
    title: r.querySelector('.recording-title').textContent,
    status: r.querySelector('.status').textContent,
    created: r.querySelector('.created').textContent,
    length: r.querySelector('.length').textContent,
    people: r.querySelector('.people').textContent,
    uploads: r.querySelector('.uploaded').textContent,
    render: r.querySelector('.render').textContent,
    files: [...r.querySelectorAll('a.download')].map((a) => ({ name: a.textContent, href: a.getAttribute('href') })),
    rerenderEnabled: !r.querySelector('button.rerender').disabled,
  }));
  Object.assign(result, { row: facts });
  log('on the dashboard:', JSON.stringify(facts));
  await shot(host.page, 'dashboard');
  const final = facts.files.find((f) => f.name === 'final.mp4');
  const download = await host.page.request.get(new URL(final.href, base).href);
  const body = await download.body();
  result.download = { status: download.status(), contentType: download.headers()['content-type'], bytes: body.length };
  if (process.env.DOWNLOAD_TO) writeFileSync(process.env.DOWNLOAD_TO, body);

  // Render again: the page says so, the row shows the new render on its way
  // (the list is read again at once, and then every few seconds), and done.
  await host.page.click(`${row(roomId)} button.rerender`);
  result.rerenderAsked = await text(host.page, `${row(roomId)} .rerender-asked`);
  result.rerenderSeen = await (await host.page.waitForFunction(
    (sel) => document.querySelector(sel)?.dataset.renderStatus !== 'completed' && document.querySelector(sel).dataset.renderStatus,
    row(roomId), { polling: 100 })).jsonValue();
  await host.page.waitForFunction((sel) => {
    const r = document.querySelector(sel);
    return r?.dataset.renderStatus === 'completed' && !r.querySelector('button.rerender').disabled;
  }, row(roomId), { timeout: 240000, polling: 250 });
  log('rendered again');
}

/** Signed out, the dashboard is the sign-in page; a wrong password is said so. */
async function signOut() {
  await host.page.click('#sign-out');
  await host.page.waitForURL(/\/signin$/);
  await host.page.goto(`${base}/dashboard`);
  await host.page.waitForURL(/\/signin$/);
  result.dashboardAfterSignOut = new URL(host.page.url()).pathname;
  await host.page.fill('#signin-email', email);
  await host.page.fill('#signin-password', 'not the password');
  await host.page.click('#signin-submit');
  result.wrongPassword = await text(host.page, '.problem[role="alert"]');
  await shot(host.page, 'signin');
}

/** Another host, in a browser of its own: an empty dashboard, and no way into the room. */
async function secondHost(roomId) {
  await second.page.goto(`${base}/dashboard`);
  await second.page.waitForURL(/\/signin$/);
  await second.page.fill('#signin-email', process.env.SECOND_EMAIL);
  await second.page.fill('#signin-password', process.env.SECOND_PASSWORD);
  await second.page.click('#signin-submit');
  await second.page.waitForURL(/\/dashboard$/);
  result.secondEmpty = await text(second.page, '#no-recordings');
  result.secondRows = await second.page.$$eval('.recording', (rs) => rs.length);
  // With its cookie (the context's own) and with its API key.
  const room = `${base}/api/recordings/${roomId}`;
  result.secondRoomWithCookie = (await second.page.request.get(room)).status();
  const withKey = await fetch(room, { headers: { Authorization: `Bearer ${process.env.SECOND_API_KEY}` } });
  result.secondRoomWithKey = withKey.status;
  result.secondListWithCookie = (await (await second.page.request.get(`${base}/api/me/recordings`)).json()).recordings.length;
}

/** The first host signs in again and deletes the recording (with a second click). */
async function deleteRecording(roomId) {
  await host.page.goto(`${base}/signin`);
  await host.page.fill('#signin-email', email);
  await host.page.fill('#signin-password', password);
  await host.page.click('#signin-submit');
  await host.page.waitForURL(/\/dashboard$/);
  await host.page.click(`${row(roomId)} button.delete`);
  await host.page.click(`${row(roomId)} button.delete-confirm`);
  await host.page.waitForSelector(row(roomId), { state: 'detached' });
  result.afterDelete = await text(host.page, '#no-recordings');
  result.downloadAfterDelete = (await host.page.request.get(new URL(process.env.FINAL_URL, base).href)).status();
  result.listAfterDelete = (await (await host.page.request.get(`${base}/api/me/recordings`)).json()).recordings.length;
}

try {
  if (phase === 'first') {
    await firstRun();
    const roomId = await record();
    await dashboard(roomId);
    await signOut();
  } else {
    await secondHost(process.env.ROOM_ID);
    await deleteRecording(process.env.ROOM_ID);
  }
  result.cspViolations = cspViolations;
  console.log(`ZENCAST_RESULT ${JSON.stringify(result)}`);
} catch (e) {
  const dir = join(tmpdir(), `zencast-e2e-accounts-${phase}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  await host.page.screenshot({ path: join(dir, 'host.png') }).catch(() => {});
  await second.page.screenshot({ path: join(dir, 'second.png') }).catch(() => {});
  log(`failed: ${e.message} (screenshots in ${dir}); so far: ${JSON.stringify(result)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
