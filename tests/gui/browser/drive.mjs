// drive.mjs - open a noVNC page in headless Chromium (Debian's, never a
// downloaded one) through playwright-core, and run steps on it (issue #8).
//
//   node drive.mjs --modules DIR --url URL [STEP ...]
//
// --modules DIR   the node_modules holding playwright-core (or env
//                 BH_BROWSER_MODULES); installed by `npm ci` from
//                 package-lock.json next to this file, outside the repo
// --url URL       the viewer page, e.g. bh.html from this directory
//                 served by the VNC output's --http-dir:
//                 http://127.0.0.1:5877/bh.html?ws=ws://127.0.0.1:5977/
//                 (any noVNC page with one <canvas> works; bh.html also
//                 reports the connection state)
// --chromium PATH default /usr/bin/chromium
// --timeout MS    for the connection and for each --expect-rgb (10000)
//
// Steps, run in the order given once the framebuffer shows (the canvas
// has its first opaque pixel); X,Y are framebuffer coordinates:
//   --expect-rgb X,Y,RRGGBB   wait until the canvas pixel is that colour
//   --expect-region X,Y,W,H,C1[+C2...]  wait until every pixel of the
//                             rectangle is one of the colours C1, C2, ...
//                             and each of them is there at least once
//   --click X,Y               left click (press, release)
//   --press X,Y / --release X,Y / --move X,Y
//   --type TEXT               type TEXT on the keyboard
//   --key NAME                press a key by Playwright name (Enter, ...)
//   --wait MS
//   --screenshot FILE         PNG of the page
//
// Output: one JSON object a line on stdout ({"step": ..., "ok": ...}).
// Exit status 0 if every step passed, 1 if one failed (the rest are not
// run), 2 on usage errors, 3 if Chromium could not be started.
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';

function usage(msg) {
  process.stderr.write(`drive.mjs: ${msg}\n`);
  process.exit(2);
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function xy(s, n) {
  const v = s.split(',');
  if (v.length !== n)
    usage(`bad coordinates '${s}'`);
  return v;
}

const opt = {
  modules: process.env.BH_BROWSER_MODULES || '',
  url: '',
  chromium: '/usr/bin/chromium',
  timeout: 10000,
};
const steps = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length)
      usage(`${a} needs a value`);
    return argv[++i];
  };
  switch (a) {
  case '--modules': opt.modules = val(); break;
  case '--url': opt.url = val(); break;
  case '--chromium': opt.chromium = val(); break;
  case '--timeout': opt.timeout = Number(val()); break;
  case '--expect-rgb': {
    const [x, y, rgb] = xy(val(), 3);
    if (!/^[0-9a-fA-F]{6}$/.test(rgb))
      usage(`bad colour '${rgb}'`);
    steps.push({ step: 'rgb', x: Number(x), y: Number(y),
      want: rgb.toLowerCase() });
    break;
  }
  case '--expect-region': {
    const [x, y, w, h, cs] = xy(val(), 5);
    const want = cs.toLowerCase().split('+');
    if (!want.every(c => /^[0-9a-f]{6}$/.test(c)))
      usage(`bad colours '${cs}'`);
    steps.push({ step: 'region', x: Number(x), y: Number(y), w: Number(w),
      h: Number(h), want });
    break;
  }
  case '--click': case '--press': case '--release': case '--move': {
    const [x, y] = xy(val(), 2);
    steps.push({ step: a.slice(2), x: Number(x), y: Number(y) });
    break;
  }
  case '--type': steps.push({ step: 'type', text: val() }); break;
  case '--key': steps.push({ step: 'key', key: val() }); break;
  case '--wait': steps.push({ step: 'wait', ms: Number(val()) }); break;
  case '--screenshot': steps.push({ step: 'screenshot', file: val() }); break;
  default: usage(`unknown argument '${a}'`);
  }
}
if (!opt.url)
  usage('--url is required');
if (!opt.modules)
  usage('--modules (or BH_BROWSER_MODULES) is required');

const require = createRequire(path.join(path.resolve(opt.modules), 'x.js'));
const { chromium } = require('playwright-core');

const sleep = ms => new Promise(r => setTimeout(r, ms));

// The canvas pixel at framebuffer (x, y) as "rrggbbaa", or null.
async function pixel(page, x, y) {
  return page.evaluate(([x, y]) => {
    const c = document.querySelector('canvas');
    if (!c || x >= c.width || y >= c.height)
      return null;
    const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
    return Array.from(d).map(v => v.toString(16).padStart(2, '0')).join('');
  }, [x, y]);
}

// Histogram {"rrggbbaa": count} of a canvas rectangle, or null.
async function histogram(page, x, y, w, h) {
  return page.evaluate(([x, y, w, h]) => {
    const c = document.querySelector('canvas');
    if (!c || w <= 0 || h <= 0 || x + w > c.width || y + h > c.height)
      return null;
    const d = c.getContext('2d').getImageData(x, y, w, h).data;
    const hist = {};
    for (let i = 0; i < d.length; i += 4) {
      const k = ((d[i] << 24 >>> 0) + (d[i + 1] << 16) + (d[i + 2] << 8) +
        d[i + 3]).toString(16).padStart(8, '0');
      hist[k] = (hist[k] || 0) + 1;
    }
    return hist;
  }, [x, y, w, h]);
}

function regionOk(hist, want) {
  if (hist === null)
    return false;
  const keys = Object.keys(hist);
  return keys.every(k => want.includes(k.slice(0, 6)) && k.endsWith('ff')) &&
    want.every(c => hist[c + 'ff'] > 0);
}

async function canvasBox(page) {
  const b = await page.locator('canvas').first().boundingBox();
  if (!b)
    throw new Error('no canvas on the page');
  return b;
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: true,
    // root in a container: no user namespace for the sandbox
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 30000,
  });
} catch (e) {
  out({ step: 'launch', ok: false, error: String(e.message || e) });
  process.exit(3);
}

let failed = false;
try {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 900 } });
  const log = [];
  page.on('console', m => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`));
  page.on('requestfailed', q => log.push(
    `requestfailed: ${q.url()} ${q.failure() ? q.failure().errorText : ''}`));
  await page.goto(opt.url, { timeout: opt.timeout });

  // connected (bh.html says so) and the first framebuffer update drawn
  const t0 = Date.now();
  let st = null;
  for (;;) {
    st = await page.evaluate(() => {
      const c = document.querySelector('canvas');
      let shown = false;
      if (c && c.width > 0 && c.height > 0) {
        const d = c.getContext('2d').getImageData(0, 0, 1, 1).data;
        shown = d[3] === 255;
      }
      return {
        state: window.bh ? window.bh.state : 'unknown',
        reason: window.bh ? window.bh.reason : '',
        width: c ? c.width : 0, height: c ? c.height : 0, shown,
      };
    });
    if (st.shown && st.state !== 'disconnected' && st.state !== 'connecting')
      break;
    if (st.state === 'disconnected' || Date.now() - t0 > opt.timeout)
      throw new Error(`not connected: ${JSON.stringify(st)}; ` +
        log.slice(-12).join(' | '));
    await sleep(50);
  }
  out({ step: 'connect', ok: true, state: st.state, width: st.width,
    height: st.height, ms: Date.now() - t0 });

  for (const s of steps) {
    const r = { ...s };
    switch (s.step) {
    case 'rgb': {
      const t = Date.now();
      let got;
      do {
        got = await pixel(page, s.x, s.y);
        if (got === s.want + 'ff')
          break;
        await sleep(50);
      } while (Date.now() - t < opt.timeout);
      r.got = got === null ? null : got.slice(0, 6);
      r.alpha = got === null ? null : got.slice(6);
      r.ok = got === s.want + 'ff';
      break;
    }
    case 'region': {
      const t = Date.now();
      let hist;
      do {
        hist = await histogram(page, s.x, s.y, s.w, s.h);
        if (regionOk(hist, s.want))
          break;
        await sleep(50);
      } while (Date.now() - t < opt.timeout);
      r.ok = regionOk(hist, s.want);
      if (hist !== null) {
        // the colours found, most frequent first (at most 8)
        r.got = Object.entries(hist).sort((a, b) => b[1] - a[1]).slice(0, 8)
          .map(([k, n]) => `${k.endsWith('ff') ? k.slice(0, 6) : k}:${n}`);
      } else
        r.got = null;
      break;
    }
    case 'click': case 'press': case 'release': case 'move': {
      const b = await canvasBox(page);
      await page.mouse.move(b.x + s.x + 0.5, b.y + s.y + 0.5);
      if (s.step === 'click') {
        await page.mouse.down();
        await sleep(30);
        await page.mouse.up();
      } else if (s.step === 'press')
        await page.mouse.down();
      else if (s.step === 'release')
        await page.mouse.up();
      r.ok = true;
      break;
    }
    case 'type':
      await page.keyboard.type(s.text, { delay: 30 });
      r.ok = true;
      break;
    case 'key':
      await page.keyboard.press(s.key);
      r.ok = true;
      break;
    case 'wait':
      await sleep(s.ms);
      r.ok = true;
      break;
    case 'screenshot':
      await page.screenshot({ path: s.file });
      r.ok = true;
      break;
    }
    // still connected after the step?
    const state = await page.evaluate(
      () => (window.bh ? window.bh.state : 'unknown'));
    if (state === 'disconnected') {
      r.ok = false;
      r.error = 'disconnected';
    }
    out(r);
    if (!r.ok) {
      failed = true;
      break;
    }
  }
  if (failed && log.length)
    out({ step: 'log', ok: true, log: log.slice(-20) });
} catch (e) {
  out({ step: 'error', ok: false, error: String(e.message || e) });
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
