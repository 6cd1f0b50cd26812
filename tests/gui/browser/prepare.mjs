// prepare.mjs - fill a VNC output's --http-dir for the browser test
// (issue #8).
//
//   node prepare.mjs --modules NODE_MODULES DIR [--tree]
//
// Writes DIR/bh.html (this directory's viewer page) and DIR/novnc-rfb.js:
// noVNC's RFB class bundled into one ES module by esbuild, since
// libvncserver's HTTP server serves one connection at a time and drops
// the one in progress when another comes, so Chromium's parallel loads
// of noVNC's ~30 module files fail.  With --tree also copies the
// unbundled noVNC (core/, vendor/) to DIR/novnc/ and bh.html as
// DIR/bh-tree.html importing it, to show that failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
let modules = process.env.BH_BROWSER_MODULES || '';
let dir = '';
let tree = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--modules' && i + 1 < argv.length)
    modules = argv[++i];
  else if (argv[i] === '--tree')
    tree = true;
  else if (!dir && !argv[i].startsWith('-'))
    dir = argv[i];
  else {
    process.stderr.write(
      'usage: node prepare.mjs --modules NODE_MODULES DIR [--tree]\n');
    process.exit(2);
  }
}
if (!modules || !dir) {
  process.stderr.write(
    'usage: node prepare.mjs --modules NODE_MODULES DIR [--tree]\n');
  process.exit(2);
}
modules = path.resolve(modules);
const require = createRequire(path.join(modules, 'x.js'));
const esbuild = require('esbuild');
const novnc = path.join(modules, '@novnc', 'novnc');

fs.mkdirSync(dir, { recursive: true });
esbuild.buildSync({
  entryPoints: [path.join(novnc, 'core', 'rfb.js')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  outfile: path.join(dir, 'novnc-rfb.js'),
  logLevel: 'warning',
});
const page = fs.readFileSync(path.join(here, 'bh.html'), 'utf8');
fs.writeFileSync(path.join(dir, 'bh.html'), page);
if (tree) {
  for (const sub of ['core', 'vendor'])
    fs.cpSync(path.join(novnc, sub), path.join(dir, 'novnc', sub),
      { recursive: true });
  fs.writeFileSync(path.join(dir, 'bh-tree.html'),
    page.replace("'./novnc-rfb.js'", "'./novnc/core/rfb.js'"));
}
