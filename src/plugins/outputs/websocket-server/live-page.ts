/**
 * The live page `websocket_server` serves at `GET /`: one self-contained HTML document that connects
 * back to the same port and shows records as they arrive. Its parts are real files in live-page/
 * (index.html, style.css, and script.js, type-checked against the DOM by live-page/tsconfig.json); the
 * build copies them next to this module (and next to the bundle's chunks, one of which this module
 * becomes), and the page inlines the style and the script, so one response carries the whole page.
 *
 * The page builds every row with `textContent`, never HTML from a record, and its Content-Security-Policy
 * allows only its own inline script and style (by hash) plus the msgpack decoder from this server.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WsbitError, errorMessage } from '../../../base/errors.js';

/** Named in live-page/index.html and live-page/script.js, which are checked for them when the page is built. */
export const MSGPACK_ASSET_PATH = '/assets/msgpack.min.js';
export const STATUS_PATH = '/status';

const STYLE_LINK = '<link rel="stylesheet" href="style.css">';
const SCRIPT_TAG = '<script src="script.js"></script>';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function readPart(name: string): string {
  const file = new URL(`./live-page/${name}`, import.meta.url);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new WsbitError('WSBIT_LIVE_PAGE', `cannot read the live page's ${name} (${file.pathname}): ${errorMessage(error)}`, { cause: error });
  }
}

/** `text` with its one `marker` replaced; a part that no longer has it is a build mistake, said clearly. */
function replaceOnce(text: string, marker: string, replacement: string, part: string): string {
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + marker.length) >= 0) {
    throw new WsbitError('WSBIT_LIVE_PAGE', `the live page's ${part} must hold ${marker} exactly once`);
  }
  return text.slice(0, at) + replacement + text.slice(at + marker.length);
}

export interface LivePage {
  html: string;
  contentSecurityPolicy: string;
}

let cached: LivePage | undefined;

export function livePage(): LivePage {
  if (cached !== undefined) return cached;
  // The inline style and script start on a line of their own, as the page was first written.
  const style = `\n${readPart('style.css')}`;
  const script = `\n${readPart('script.js')}`;
  replaceOnce(script, `fetch('${STATUS_PATH}'`, '', 'script.js');
  let html = readPart('index.html');
  replaceOnce(html, `<script src="${MSGPACK_ASSET_PATH}"></script>`, '', 'index.html');
  html = replaceOnce(html, STYLE_LINK, `<style>${style}</style>`, 'index.html');
  html = replaceOnce(html, SCRIPT_TAG, `<script>${script}</script>`, 'index.html');
  cached = {
    html,
    contentSecurityPolicy: [
      "default-src 'none'",
      `script-src 'self' ${sha256(script)}`,
      `style-src ${sha256(style)}`,
      "connect-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
  return cached;
}
