/**
 * A headless Chromium for the live-page tests that needs nothing outside `npm ci`: the one that
 * @sparticuz/chromium ships inside its npm package, or the browser that WSBIT_CHROMIUM names.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
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
    const browser = await chromium.launch({ executablePath: executable, headless: true, args });
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
