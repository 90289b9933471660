import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { hostAllowed, hostOfHeader, hostPolicy } from '../../src/base/host-check.js';

describe('hostOfHeader', () => {
  const cases: Array<[string, string | null]> = [
    ['127.0.0.1:8091', '127.0.0.1'],
    ['LocalHost:80', 'localhost'],
    ['localhost.', 'localhost'],
    ['[::1]:8091', '::1'],
    ['[::1]', '::1'],
    ['evil.example', 'evil.example'],
    ['evil.example:8091', 'evil.example'],
    ['::1', null],
    ['[::1', null],
    ['[evil.example]:80', null],
    ['[::1]x', null],
    ['a b', null],
    ['', null],
    ['host/path', null],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${String(expected)}`, () => assert.equal(hostOfHeader(header), expected));
  }
});

describe('hostAllowed', () => {
  it('a loopback listen address allows loopback names and itself, not other names or addresses', () => {
    const policy = hostPolicy('127.0.0.1', null);
    for (const host of ['127.0.0.1:8091', '127.5.6.7', 'localhost:8091', 'app.localhost', '[::1]:8091', '[0:0::1]', '[::ffff:127.0.0.1]']) {
      assert.equal(hostAllowed(host, policy), true, host);
    }
    for (const host of ['evil.example:8091', 'localhost.evil.example', '10.0.0.5:8091', '[::2]', 'garbage value']) {
      assert.equal(hostAllowed(host, policy), false, host);
    }
  });

  it('a request without Host is allowed: browsers always send one', () => {
    assert.equal(hostAllowed(undefined, hostPolicy('127.0.0.1', null)), true);
  });

  it('the listen address is allowed, in any spelling of the same address', () => {
    assert.equal(hostAllowed('192.168.1.5:2020', hostPolicy('192.168.1.5', null)), true);
    assert.equal(hostAllowed('192.168.1.6:2020', hostPolicy('192.168.1.5', null)), false);
    assert.equal(hostAllowed('[fd00::0:5]:2020', hostPolicy('fd00::5', null)), true);
    assert.equal(hostAllowed('collector.lan', hostPolicy('Collector.LAN', null)), true);
  });

  it('listening on every interface allows any IP literal and the machine name, not other names', () => {
    for (const listen of ['0.0.0.0', '::']) {
      const policy = hostPolicy(listen, null);
      assert.equal(hostAllowed('10.1.2.3:2020', policy), true);
      assert.equal(hostAllowed('[fd00::5]:2020', policy), true);
      assert.equal(hostAllowed(`${os.hostname().toUpperCase()}:2020`, policy), true);
      assert.equal(hostAllowed('evil.example:2020', policy), false);
    }
  });

  it('allowed_hosts adds names (case-insensitive, any port); * allows every Host', () => {
    const policy = hostPolicy('127.0.0.1', ['Dash.Example', 'collector.lan.']);
    assert.equal(hostAllowed('dash.example:8091', policy), true);
    assert.equal(hostAllowed('COLLECTOR.LAN', policy), true);
    assert.equal(hostAllowed('evil.example', policy), false);
    assert.equal(hostAllowed('evil.example', hostPolicy('127.0.0.1', ['*'])), true);
  });
});
