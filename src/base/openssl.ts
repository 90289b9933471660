/**
 * Node's modules that bring OpenSSL in (node:crypto, node:tls, node:https), required when first needed
 * rather than imported: loading them maps OpenSSL's pages of the node binary and sets up its state, about
 * 1 MB of RSS that an agent without TLS or shared keys (a plain tcp input, a ws:// output) never needs.
 */
import type * as Crypto from 'node:crypto';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

const require = createRequire(import.meta.url);
let loadedCrypto: typeof Crypto | undefined;
let loadedTls: typeof Tls | undefined;
let loadedHttps: typeof Https | undefined;

export const cryptoModule = (): typeof Crypto => (loadedCrypto ??= require('node:crypto') as typeof Crypto);
export const tlsModule = (): typeof Tls => (loadedTls ??= require('node:tls') as typeof Tls);
export const httpsModule = (): typeof Https => (loadedHttps ??= require('node:https') as typeof Https);
