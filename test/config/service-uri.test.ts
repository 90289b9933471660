import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/base/errors.js';
import { parseServiceUri, type ServiceUri } from '../../src/config/service-uri.js';

describe('parseServiceUri', () => {
  const cases: ReadonlyArray<readonly [string, ServiceUri]> = [
    ['websocket', { plugin: 'websocket' }],
    ['WebSocket', { plugin: 'websocket' }],
    ['websocket://192.168.2.3:80/something', { plugin: 'websocket', host: '192.168.2.3', port: 80, uri: '/something' }],
    ['websocket://192.168.2.3:80/something?x=1', { plugin: 'websocket', host: '192.168.2.3', port: 80, uri: '/something?x=1' }],
    ['websocket://host', { plugin: 'websocket', host: 'host' }],
    ['websocket://host:', { plugin: 'websocket', host: 'host' }],
    ['websocket://host/a/b', { plugin: 'websocket', host: 'host', uri: '/a/b' }],
    ['websocket://host:8080', { plugin: 'websocket', host: 'host', port: 8080 }],
    ['websocket://[::1]:8080', { plugin: 'websocket', host: '::1', ipv6: true, port: 8080 }],
    ['websocket://[::1]', { plugin: 'websocket', host: '::1', ipv6: true }],
    ['websocket://[fe80::1]/ws', { plugin: 'websocket', host: 'fe80::1', ipv6: true, uri: '/ws' }],
    ['TCP://0.0.0.0:5170', { plugin: 'tcp', host: '0.0.0.0', port: 5170 }],
  ];
  for (const [input, expected] of cases) {
    it(input, () => {
      assert.deepEqual(parseServiceUri(input), expected);
    });
  }

  const bad: ReadonlyArray<readonly [string, string]> = [
    ['websocket://', 'the host is empty'],
    ['websocket://:80', 'the host is empty'],
    ['websocket:///path', 'the host is empty'],
    ['websocket://[]:80', 'the host is empty'],
    ['websocket://[::1', "missing ']' after the IPv6 address"],
    ['websocket://host:abc', "invalid port 'abc': expected a number from 1 to 65535"],
    ['websocket://host:0', "invalid port '0': expected a number from 1 to 65535"],
    ['websocket://host:65536/x', "invalid port '65536': expected a number from 1 to 65535"],
    ['websocket://[::1]x', "unexpected 'x': expected [:port][/path]"],
    ['://host', 'no plugin name before ://'],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input}`, () => {
      assert.throws(
        () => parseServiceUri(input),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.code === 'WSBIT_CONFIG_BAD_URI' &&
          error.message === `[config] invalid plugin URI '${input}': ${reason}`,
      );
    });
  }
});
