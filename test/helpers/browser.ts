/**
 * A headless Chromium for the live-page tests that needs nothing outside `npm ci`: the one that
 * @sparticuz/chromium ships inside its npm package, or the browser that WSBIT_CHROMIUM names.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';
import packagedChromium from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from './temp.js';

// The machines that run the tests have no internet: everything that would phone home is off, so a
// test never waits on a request that cannot succeed.
const offlineFlags = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-domain-reliability',
  '--no-pings',
];

// @sparticuz/chromium's flags are for AWS Lambda; these would weaken the page's security (the tests
// check that its CSP reports nothing) or are only needed inside Lambda's sandbox.
const lambdaOnlyFlags = new Set(['--disable-web-security', '--allow-running-insecure-content', '--disable-site-isolation-trials', '--single-process']);

/**
 * The NSS, NSPR and expat libraries that @sparticuz/chromium ships beside the browser (for Amazon
 * Linux, `bin/al2023.tar.br`), unpacked into `into`/lib. With them the browser needs nothing from the
 * system but glibc, where it would otherwise link the system's libnss3, which a bare Debian lacks.
 * The archive holds regular files only, so a ustar walk is all it takes.
 */
function unpackBundledLibraries(into: string): string {
  const packageEntry = fileURLToPath(import.meta.resolve('@sparticuz/chromium'));
  const archive = path.join(path.dirname(packageEntry), '..', '..', 'bin', 'al2023.tar.br');
  const tar = brotliDecompressSync(readFileSync(archive));
  const text = (start: number, length: number): string => tar.subarray(start, start + length).toString('latin1').replace(/\0[^]*$/, '');
  const libDir = path.join(into, 'lib');
  mkdirSync(libDir, { recursive: true });
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = text(offset, 100);
    if (name === '') break;
    const size = Number.parseInt(text(offset + 124, 12).trim(), 8);
    const type = text(offset + 156, 1);
    const body = offset + 512;
    if ((type === '0' || type === '') && name.startsWith('lib/') && !name.includes('..')) {
      writeFileSync(path.join(into, name), tar.subarray(body, body + size));
    }
    offset = body + Math.ceil(size / 512) * 512;
  }
  return libDir;
}

export interface LaunchedBrowser {
  browser: Browser;
  /** Which browser runs, for the test's diagnostics. */
  executable: string;
  /** Closes the browser, then removes the unpacked copy (if any). */
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const own = process.env['WSBIT_CHROMIUM'];
  if (own !== undefined && own !== '') {
    const browser = await chromium.launch({ executablePath: own, headless: true, args: offlineFlags });
    return { browser, executable: own, close: () => browser.close() };
  }
  // The package unpacks its browser (about 200 MB, some 3 s) into os.tmpdir(), and reuses what it
  // finds there. A directory of this process's own keeps two test files running at once from using a
  // half-written binary, and goes away with the browser (or at the latest with the process), so a run
  // leaves nothing in /tmp.
  const unpackDir = tempDir('wsbit-chromium-');
  const removeUnpacked = (): void => rmSync(unpackDir, { recursive: true, force: true });
  try {
    const previous = process.env['TMPDIR'];
    process.env['TMPDIR'] = unpackDir;
    // executablePath() reads os.tmpdir() before its first await, so TMPDIR is back at once.
    const unpacking = packagedChromium.executablePath();
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    const executable = await unpacking;
    if (path.dirname(executable) !== unpackDir) throw new Error(`@sparticuz/chromium unpacked to ${executable}, not into ${unpackDir}`);
    const args = [...packagedChromium.args.filter((flag) => !lambdaOnlyFlags.has(flag)), ...offlineFlags];
    const libDir = unpackBundledLibraries(unpackDir);
    const libraryPath = [libDir, process.env['LD_LIBRARY_PATH']].filter((part) => part !== undefined && part !== '').join(path.delimiter);
    const browser = await chromium.launch({ executablePath: executable, headless: true, args, env: { ...process.env, LD_LIBRARY_PATH: libraryPath } });
    return {
      browser,
      executable: `${executable} (@sparticuz/chromium)`,
      close: async () => {
        try {
          await browser.close();
        } finally {
          removeUnpacked();
        }
      },
    };
  } catch (error) {
    removeUnpacked();
    throw error;
  }
}
