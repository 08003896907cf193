// One recorded session in headless Chromium with fake camera and microphone:
// a host and a guest (two browser contexts) create and join a room, see each
// other over WebRTC, record, stop, and wait for their uploads to finish.
//
// Environment: ZENCAST_URL (the api), SCENARIO = basic | reload | offline | corrupt
// | refusals (no recording: a guest denied the camera, a guest at a full room)
// | people (no recording: the host removes a guest, revokes and renews the invite)
// | late (a guest's tab closes with uploads waiting; it comes back after the
// session completed and rendered; OUT_DIR receives the first render's guest WAV)
// | align (three people, one joining late and one reloading, every camera a
// clock: see clockCamera),
// RECORD_SECONDS (default 20), CHUNK_SECONDS (the room's chunk length, default 2), SCREENSHOTS_DIR (optional: 1280×800 shots of
// every page), EXPECT_RENDER=1 (also wait for the files of the render).
// Prints one line `ZENCAST_RESULT {json}` on success; exits 1 on any failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { chromium, launchArgs, sleep, startDriver } from './driver.mjs';

const base = process.env.ZENCAST_URL;
const scenario = process.env.SCENARIO || 'basic';
const recordMs = Number(process.env.RECORD_SECONDS || 20) * 1000;
const expectRender = process.env.EXPECT_RENDER === '1';
const { browser, log, newPage, shot, cspViolations } = await startDriver(scenario, process.env.SCREENSHOTS_DIR);

const ownRow = (page, field) =>
  page.$eval('.upload-row[data-pending]:not([data-pending=""])', (e, f) => Number(e.dataset[f]), field);
const pendingUploads = (page) =>
  page.$eval('.upload-row[data-pending]:not([data-pending=""])', (e) => Number(e.dataset.pending));

/**
 * Replaces the camera of every page of `context` with a canvas showing the
 * page's clock: Date.now() modulo 2^24 ms as 24 white-or-black blocks between
 * a white guard block on each side, with a parity block before the right
 * guard. Every page of one browser shares that clock, so the same instant of
 * the session timeline must show the same time in every participant's track:
 * an alignment oracle that a real browser produces (MediaRecorder, WebM, the
 * real timestamps), read back from the rendered tracks.
 */
async function clockCamera(context) {
  await context.addInitScript(() => {
    const devices = navigator.mediaDevices;
    const real = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
      const stream = await real(constraints);
      if (!constraints?.video) return stream;
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 360;
      const g = canvas.getContext('2d');
      const draw = () => {
        const now = Date.now() % 16777216;
        const bits = [1];
        let parity = 0;
        for (let i = 23; i >= 0; i--) {
          const b = (now >> i) & 1;
          bits.push(b);
          parity ^= b;
        }
        bits.push(parity, 1);
        g.fillStyle = '#000';
        g.fillRect(0, 0, 640, 360);
        bits.forEach((b, i) => {
          g.fillStyle = b ? '#fff' : '#000';
          g.fillRect(23 + i * 22, 100, 22, 160);
        });
      };
      draw();
      const timer = setInterval(draw, 5);
      const video = canvas.captureStream(30).getVideoTracks()[0];
      // A camera let go of (a device change) stops drawing too.
      video.stop = () => {
        clearInterval(timer);
        MediaStreamTrack.prototype.stop.call(video);
      };
      for (const t of stream.getVideoTracks()) t.stop();
      return new MediaStream([video, ...stream.getAudioTracks()]);
    };
  });
}

const host = await newPage('host');
const guest = await newPage('guest');
if (scenario === 'align') {
  await clockCamera(host.context);
  await clockCamera(guest.context);
}
/** The host creates a session on the home page; its id and invite link. */
async function createSession() {
  // Home: the host creates the session.
  await host.page.goto(`${base}/`);
  await host.page.fill('#title', `Browser test (${scenario})`);
  await host.page.fill('#host-name', 'Hana Host');
  await host.page.selectOption('#layout', 'side-by-side');
  await host.page.fill('#chunk-seconds', process.env.CHUNK_SECONDS || '2');
  // The host sees their camera and microphone before the session, and picks
  // a microphone other than the default: the studio must record that one.
  await host.page.waitForFunction(() => document.querySelector('#preview')?.videoWidth > 0);
  await host.page.waitForFunction(() => Number(document.querySelector('.level')?.dataset.level) > 0, null, { timeout: 15000 });
  await host.page.waitForFunction(() => document.querySelectorAll('#microphone option').length > 1);
  const chosenMicrophone = await host.page.$eval('#microphone', (s) => {
    s.selectedIndex = s.options.length - 1;
    s.dispatchEvent(new Event('change', { bubbles: true }));
    return s.options[s.selectedIndex].textContent;
  });
  // The preview follows the choice.
  await host.page.waitForFunction((label) => {
    const preview = document.querySelector('#preview');
    return preview?.srcObject?.getAudioTracks()[0]?.label === label && preview.videoWidth > 0 && !preview.paused;
  }, chosenMicrophone);
  await shot(host.page, 'home');
  await host.page.click('#create-session');
  await host.page.waitForURL(/\/studio\//);
  const roomId = host.page.url().split('/studio/')[1];
  const inviteUrl = await host.page.inputValue('#invite-link');
  log('room', roomId);
  console.log(`ZENCAST_ROOM ${roomId}`);
  // The studio opened the microphone the host picked.
  const ownTrack = () => document.querySelector('.tile[data-me="true"] video')?.srcObject?.getAudioTracks()[0]?.label;
  await host.page.waitForFunction(ownTrack);
  const hostMicrophone = await host.page.evaluate(ownTrack);
  log(`host picked "${chosenMicrophone}", the studio records "${hostMicrophone}"`);
  if (hostMicrophone !== chosenMicrophone) throw new Error(`the studio opened "${hostMicrophone}", not the chosen "${chosenMicrophone}"`);

  return { roomId, inviteUrl };
}

/** A guest joins, both record, stop, and wait for their uploads (and the render). */
async function record(roomId, inviteUrl) {
  // Join: the guest opens the invite, sees the preview and the level meter.
  await guest.page.goto(inviteUrl);
  await guest.page.fill('#display-name', 'Gus Guest');
  await guest.page.waitForFunction(() => document.querySelector('#preview')?.videoWidth > 0);
  await guest.page.waitForFunction(() => Number(document.querySelector('.level')?.dataset.level) > 0, null, { timeout: 15000 });
  await shot(guest.page, 'join');
  await guest.page.click('#join-session');
  await guest.page.waitForURL(/\/studio\//);

  // Studio: both see the other live over WebRTC.
  const live = '.tile[data-me="false"][data-peer-state="connected"]';
  await host.page.waitForSelector(live, { timeout: 30000 });
  await guest.page.waitForSelector(live, { timeout: 30000 });
  log('peer connection connected on both sides');

  if (scenario === 'corrupt') {
    // The guest's third chunk is damaged on the way (once): the server stores
    // what arrived, and nothing but reading it can tell.
    let damaged = false;
    await guest.page.route(/\/chunks\/2$/, async (route) => {
      const body = route.request().postDataBuffer();
      if (damaged || !body) return route.continue();
      damaged = true;
      await route.continue({ postData: randomBytes(body.length) });
    });
  }
  await host.page.click('#start-recording');
  await host.page.waitForSelector('section.studio[data-recording="true"]');
  await guest.page.waitForSelector('section.studio[data-recording="true"]');
  const recordingFrom = Date.now();
  log('recording');
  const result = { roomId, scenario };

  if (scenario === 'reload') {
    // Between chunk boundaries (7 s of 10 s chunks): what the reload cuts is
    // a chunk in progress, which the next page must find and send.
    const reloadAfter = recordMs * 0.35;
    await sleep(reloadAfter);
    log('reloading the guest');
    // The moment the page goes: what its recorder had not handed over is lost.
    result.reloadAtMs = Date.now();
    await guest.page.reload();
    await guest.page.waitForSelector('section.studio[data-recording="true"]', { timeout: 20000 });
    result.reloadGapMs = Date.now() - recordingFrom - reloadAfter;
    log(`guest recording again after ${result.reloadGapMs} ms`);
    // The page says what it found of the recording before the reload.
    const notice = await guest.page.waitForSelector('[data-recovered]', { timeout: 10000 });
    result.recoveredNotice = await notice.textContent();
    log(`the guest sees: ${result.recoveredNotice}`);
  } else if (scenario === 'offline') {
    await sleep(4000);
    log('guest offline for 15 s');
    await guest.context.setOffline(true);
    await sleep(15000);
    result.pendingWhenBack = await pendingUploads(guest.page);
    const recordedWhenBack = await ownRow(guest.page, 'recorded');
    await guest.context.setOffline(false);
    const back = Date.now();
    log(`guest online again with ${result.pendingWhenBack} of ${recordedWhenBack} chunks waiting`);
    // Recording goes on meanwhile: done when everything recorded before the return is stored.
    await guest.page.waitForFunction(
      (n) => Number(document.querySelector('.upload-row[data-pending]:not([data-pending=""])')?.dataset.stored) >= n,
      recordedWhenBack, { timeout: 60000, polling: 100 });
    result.drainMs = Date.now() - back;
    log(`the ${result.pendingWhenBack} waiting chunks were stored ${result.drainMs} ms after the network came back`);
  } else if (scenario === 'devices') {
    // The host changes microphone mid-recording: the studio opens it, the
    // guest's connection stays up, and the recording goes on (a new segment).
    const storedNow = () => ownRow(host.page, 'stored');
    await host.page.waitForFunction(
      () => Number(document.querySelector('.upload-row[data-pending]:not([data-pending=""])')?.dataset.stored) >= 2,
      null, { timeout: 30000, polling: 100 });
    const ownMic = () => document.querySelector('.tile[data-me="true"] video')?.srcObject?.getAudioTracks()[0]?.label;
    result.micBefore = await host.page.evaluate(ownMic);
    const other = await host.page.$eval('#switch-microphone', (s, current) => {
      const o = [...s.options].find((o) => o.textContent !== current);
      s.value = o.value;
      s.dispatchEvent(new Event('change', { bubbles: true }));
      return o.textContent;
    }, result.micBefore);
    result.switchedAtMs = Date.now() - recordingFrom;
    await host.page.waitForFunction((label) => {
      const track = document.querySelector('.tile[data-me="true"] video')?.srcObject?.getAudioTracks()[0];
      return track?.label === label && track.readyState === 'live';
    }, other, { timeout: 10000 });
    result.micAfter = await host.page.evaluate(ownMic);
    // Recording goes on: more chunks are stored after the change.
    const before = await storedNow();
    await host.page.waitForFunction(
      (n) => Number(document.querySelector('.upload-row[data-pending]:not([data-pending=""])')?.dataset.stored) >= n,
      before + 3, { timeout: 30000, polling: 100 });
    result.guestStillLive = await guest.page.$('.tile[data-me="false"][data-peer-state="connected"]') !== null;
    log(`the host switched from "${result.micBefore}" to "${result.micAfter}"`);
  } else if (scenario === 'corrupt') {
    // The host learns of it while recording (recording goes on until then).
    const alert = await host.page.waitForSelector('[data-rejected="2"]', { timeout: recordMs + 60000 });
    result.rejectedNotice = await alert.textContent();
    result.rejectedAfterMs = Date.now() - recordingFrom;
    log(`the host sees: ${result.rejectedNotice}`);
  } else {
    await sleep(recordMs / 2);
    await shot(host.page, 'studio');
    // The final video is rendered while recording: the host sees how far
    // (recording goes on until the page says it, if that takes longer: the
    // first 16 s window is final after 16 s of recording, and with the two
    // browsers encoding on the same two cores the window's ffmpeg gets a
    // tenth of a core: its 15 s of work then take two to three minutes).
    const ready = await host.page.waitForSelector('#rendered-until', { timeout: recordMs + 200000 });
    result.renderedUntil = await ready.textContent();
    result.renderedUntilAfterMs = Date.now() - recordingFrom;
    log(`the host sees: ${result.renderedUntil}`);
  }
  const left = recordMs - (Date.now() - recordingFrom);
  if (left > 0) await sleep(left);

  // Timed before the click: the click returns later on a busy machine.
  result.recordedMs = Date.now() - recordingFrom;
  await host.page.click('#stop-recording');
  await host.page.waitForURL(/\/finish\//);
  await guest.page.waitForURL(/\/finish\//, { timeout: 20000 });
  for (const p of [host.page, guest.page]) {
    await p.waitForSelector('[data-uploads-done="true"]', { timeout: 60000 });
  }
  log('uploads finished on both sides');
  if (expectRender) {
    await host.page.waitForSelector('#files a[data-kind="final"]', { timeout: 180000 });
    result.files = await host.page.$$eval('#files a', (as) => as.map((a) => a.getAttribute('href')));
  }
  await shot(host.page, 'finish');
  if (scenario === 'basic') {
    // Errors a person understands: a broken invite, and a session that is over.
    const late = await newPage('late guest');
    const problemAfterJoin = async (url) => {
      await late.page.goto(url);
      await late.page.fill('#display-name', 'Lou Late');
      await late.page.click('#join-session');
      return (await late.page.waitForSelector('.problem[role="alert"]')).textContent();
    };
    result.brokenInvite = await problemAfterJoin(inviteUrl.replace(/invite=[^&]+/, 'invite=not-a-real-invite'));
    result.finishedSession = await problemAfterJoin(inviteUrl);
    log(`messages: "${result.brokenInvite}" / "${result.finishedSession}"`);
  }
  return result;
}

/**
 * What a person is told when they cannot take part: a guest whose browser
 * refuses the camera and microphone (a browser without the fake prompt that
 * grants them: headless Chromium then answers NotAllowedError), and a guest
 * arriving at a full room (the other places taken through the api).
 */
async function refusals(roomId, inviteUrl) {
  const result = { roomId, scenario };
  const strict = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: launchArgs.filter((a) => a !== '--use-fake-ui-for-media-stream'),
  });
  try {
    const page = await (await strict.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(inviteUrl);
    await page.fill('#display-name', 'Dee Denied');
    result.denied = await (await page.waitForSelector('.problem[role="alert"]')).textContent();
    // Without devices there is nothing to record: the page does not let them in.
    result.joinDisabled = await page.$eval('#join-session', (b) => b.disabled);
    await shot(page, 'permission-denied');
  } finally {
    await strict.close();
  }
  const inviteToken = new URL(inviteUrl).searchParams.get('invite');
  // The room's state is for its participants: take seats until the api says
  // the room is full (a room holds at most 16).
  let seats = 1;
  for (;;) {
    const r = await fetch(`${base}/api/recordings/${roomId}/join`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ displayName: `Seat ${seats + 1}`, inviteToken }),
    });
    if (r.status === 409 && (await r.json()).error.code === 'room_full') break;
    if (!r.ok) throw new Error(`filling seat ${seats + 1}: ${r.status} ${await r.text()}`);
    if (++seats > 16) throw new Error('the room never said it was full');
  }
  result.seats = seats;
  await guest.page.goto(inviteUrl);
  await guest.page.fill('#display-name', 'Fay Full');
  await guest.page.waitForFunction(() => document.querySelector('#preview')?.videoWidth > 0);
  await guest.page.click('#join-session');
  result.full = await (await guest.page.waitForSelector('.problem[role="alert"]')).textContent();
  await shot(guest.page, 'room-full');
  log(`messages: "${result.denied}" / "${result.full}"`);
  return result;
}

/** A guest opens an invite link, gives a name and clicks Join. */
async function openInvite(page, url, name) {
  await page.goto(url);
  await page.fill('#display-name', name);
  await page.waitForFunction(() => document.querySelector('#preview')?.videoWidth > 0);
  await page.click('#join-session');
}

/**
 * The host decides who is in: removes a guest (whose page says so and stops),
 * revokes the invite link (a newcomer with it is told), then makes a new link
 * for one guest, which lets the newcomer in.
 */
async function people(roomId, inviteUrl) {
  const result = { roomId, scenario };
  await openInvite(guest.page, inviteUrl, 'Gus Guest');
  await guest.page.waitForURL(/\/studio\//);
  await host.page.waitForSelector('.tile[data-me="false"] .remove', { timeout: 30000 });
  await host.page.click('.tile[data-me="false"] .remove');
  await host.page.click('.tile[data-me="false"] .remove-confirm');
  result.removed = await (await guest.page.waitForSelector('#removed .problem[role="alert"]')).textContent();
  await shot(guest.page, 'removed');
  // The removed guest's tile leaves the host's studio, and stays gone.
  await host.page.waitForFunction(() => !document.querySelector('.tile[data-me="false"]'));
  // The guest's page stopped its camera: no live track is left.
  result.guestTracksLive = await guest.page.evaluate(() =>
    [...document.querySelectorAll('video')].flatMap((v) => v.srcObject?.getTracks() ?? [])
      .filter((t) => t.readyState === 'live').length);

  await host.page.click('#revoke-invite');
  await host.page.waitForSelector('#invite-revoked');
  const newcomer = await newPage('newcomer');
  await openInvite(newcomer.page, inviteUrl, 'Nia Newcomer');
  result.revoked = await (await newcomer.page.waitForSelector('.problem[role="alert"]')).textContent();
  await shot(newcomer.page, 'invite-revoked');

  await host.page.selectOption('#invite-limit', '1');
  await host.page.click('#renew-invite');
  await host.page.waitForSelector('#invite-link');
  const renewed = await host.page.inputValue('#invite-link');
  result.renewedDiffers = renewed !== inviteUrl;
  await openInvite(newcomer.page, renewed, 'Nia Newcomer');
  await newcomer.page.waitForURL(/\/studio\//);
  await host.page.waitForSelector('.tile[data-me="false"]', { timeout: 30000 });
  result.newcomerIn = true;
  await host.page.click('.tile[data-me="false"] .remove');
  await shot(host.page, 'host-controls');
  log(`messages: "${result.removed}" / "${result.revoked}"`);
  await newcomer.context.close();
  return result;
}

/** The guest joins, the two connect, the host starts: when recording began. */
async function guestInAndRecording(inviteUrl) {
  await openInvite(guest.page, inviteUrl, 'Gus Guest');
  await guest.page.waitForURL(/\/studio\//);
  await host.page.waitForSelector('.tile[data-me="false"][data-peer-state="connected"]', { timeout: 30000 });
  await host.page.click('#start-recording');
  await guest.page.waitForSelector('section.studio[data-recording="true"]');
  return Date.now();
}

/**
 * A guest's tab closes before its uploads finish: the guest is offline from
 * its first stored chunk on, and its page closes after the host stops.
 * The session completes when the grace period runs out and renders without
 * what the guest kept on its device. Then the guest comes back (same browser,
 * online) with the invite link: its page finds the recording, uploads it and
 * finishes late, and the room renders again; the host's finish page says so.
 */
async function late(roomId, inviteUrl) {
  const result = { roomId, scenario };
  const recordingFrom = await guestInAndRecording(inviteUrl);
  // The guest's first chunk is stored; then its network goes.
  await guest.page.waitForFunction(
    () => Number(document.querySelector('.upload-row[data-pending]:not([data-pending=""])')?.dataset.stored) >= 1,
    null, { timeout: recordMs + 30000, polling: 100 });
  await guest.context.setOffline(true);
  result.offlineAtMs = Date.now() - recordingFrom;
  log(`guest offline ${result.offlineAtMs} ms into the recording`);
  const left = recordMs - (Date.now() - recordingFrom);
  if (left > 0) await sleep(left);
  // Timed before the click: the click returns later on a busy machine.
  result.recordedMs = Date.now() - recordingFrom;
  await host.page.click('#stop-recording');
  await host.page.waitForURL(/\/finish\//);
  result.pendingAtClose = await pendingUploads(guest.page);
  await guest.page.close();
  log(`guest tab closed with ${result.pendingAtClose} chunk(s) waiting`);

  // The grace period completes the session; the render goes ahead without them.
  const firstFinal = await host.page.waitForSelector('#files a[data-kind="final"]', { timeout: 240000 });
  result.firstFinal = await firstFinal.getAttribute('href');
  const guestWav = await host.page.$$eval('#files a[data-kind="track-audio"]', (as) =>
    as.filter((a) => a.textContent.startsWith('Gus Guest')).map((a) => a.getAttribute('href'))[0]);
  const wav = await fetch(`${base}${guestWav}`);
  if (!wav.ok) throw new Error(`the first render's guest track: ${wav.status}`);
  writeFileSync(join(process.env.OUT_DIR, 'first-guest.wav'), Buffer.from(await wav.arrayBuffer()));
  log('first render done without the guest\'s waiting chunks');

  // The guest comes back, online, with the invite link.
  await guest.context.setOffline(false);
  const back = await guest.context.newPage();
  await back.goto(inviteUrl);
  await back.waitForURL(/\/finish\//, { timeout: 30000 });
  result.recoveredNotice = await (await back.waitForSelector('[data-recovered]', { timeout: 20000 })).textContent();
  await back.waitForSelector('[data-uploads-done="true"]', { timeout: 60000 });
  log(`the guest sees: ${result.recoveredNotice}`);
  // The host sees that the files are made again with them.
  result.hostNotice = await (await host.page.waitForSelector('.late-uploads', { timeout: 30000 })).textContent();
  log(`the host sees: ${result.hostNotice}`);
  await shot(host.page, 'late-uploads');
  return result;
}

/**
 * Three people with the default chunk length and clock cameras: the host
 * and a guest from the start, a second guest joining 6 s into the recording,
 * the first guest reloading its page at 14 s, the host changing microphone
 * at 20 s (a second recorder), the late guest offline from 22 s to 30 s;
 * stop at RECORD_SECONDS, then wait until everyone's uploads are done. The
 * test reads the tracks.
 */
async function align(roomId, inviteUrl) {
  const result = { roomId, scenario };
  const third = await newPage('late guest');
  await clockCamera(third.context);
  const recordingFrom = await guestInAndRecording(inviteUrl);
  const at = (ms) => sleep(Math.max(0, ms - (Date.now() - recordingFrom)));
  await at(6000);
  await openInvite(third.page, inviteUrl, 'Lea Late');
  await third.page.waitForSelector('section.studio[data-recording="true"]', { timeout: 30000 });
  result.lateJoinAtMs = Date.now() - recordingFrom;
  await at(14000);
  result.reloadAtMs = Date.now() - recordingFrom;
  await guest.page.reload();
  await guest.page.waitForSelector('section.studio[data-recording="true"]', { timeout: 20000 });
  log(`late join at ${result.lateJoinAtMs} ms, reload at ${result.reloadAtMs} ms`);
  await at(20000);
  const ownMic = () => document.querySelector('.tile[data-me="true"] video')?.srcObject?.getAudioTracks()[0]?.label;
  const other = await host.page.$eval('#switch-microphone', (s, current) => {
    const o = [...s.options].find((o) => o.textContent !== current);
    s.value = o.value;
    s.dispatchEvent(new Event('change', { bubbles: true }));
    return o.textContent;
  }, await host.page.evaluate(ownMic));
  result.switchedAtMs = Date.now() - recordingFrom;
  await host.page.waitForFunction((label) => {
    const track = document.querySelector('.tile[data-me="true"] video')?.srcObject?.getAudioTracks()[0];
    return track?.label === label && track.readyState === 'live';
  }, other, { timeout: 10000 });
  await at(22000);
  result.offlineAtMs = Date.now() - recordingFrom;
  await third.context.setOffline(true);
  await at(30000);
  await third.context.setOffline(false);
  result.onlineAtMs = Date.now() - recordingFrom;
  log(`microphone changed at ${result.switchedAtMs} ms, late guest offline ${result.offlineAtMs}-${result.onlineAtMs} ms`);
  await at(recordMs);
  // Every page runs on this machine's clock, as the server does: the clock
  // sync's offsets should be 0, and what they are is their error.
  result.clockOffsetsMs = {};
  for (const [name, p] of [['Hana Host', host.page], ['Gus Guest', guest.page], ['Lea Late', third.page]]) {
    result.clockOffsetsMs[name] = Number(await p.$eval('section.studio', (e) => e.dataset.clockOffset));
  }
  // Timed before the click: the click returns later on a busy machine.
  result.recordedMs = Date.now() - recordingFrom;
  await host.page.click('#stop-recording');
  for (const p of [host.page, guest.page, third.page]) {
    await p.waitForURL(/\/finish\//, { timeout: 20000 });
    await p.waitForSelector('[data-uploads-done="true"]', { timeout: 60000 });
  }
  log('uploads finished for all three');
  return result;
}

try {
  const { roomId, inviteUrl } = await createSession();
  const run = { refusals, people, late, align }[scenario] ?? record;
  const result = await run(roomId, inviteUrl);
  result.cspViolations = cspViolations;
  console.log(`ZENCAST_RESULT ${JSON.stringify(result)}`);
} catch (e) {
  const dir = join(tmpdir(), `zencast-e2e-${scenario}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  await host.page.screenshot({ path: join(dir, 'host.png') }).catch(() => {});
  await guest.page.screenshot({ path: join(dir, 'guest.png') }).catch(() => {});
  log(`failed: ${e.message} (screenshots in ${dir})`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
