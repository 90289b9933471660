/** Which proxy a target goes through: the proxy URL, the environment variables, and curl's NO_PROXY rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseProxy, noProxyMatches, parseProxyUrl, type ProxyServer } from '../../src/base/proxy.js';
import { connectRequest, readProxyAnswer } from '../../src/base/proxy-tunnel.js';
import { netClientKeys } from '../../src/config/common-keys.js';
import { resolveConfig } from '../../src/config/schema.js';

function server(url: string): ProxyServer {
  const parsed = parseProxyUrl(url);
  assert.ok(!('invalid' in parsed), `${url}: ${JSON.stringify(parsed)}`);
  return parsed;
}

describe('parseProxyUrl', () => {
  it('reads host, port and Basic credentials, and shows the proxy without them', () => {
    assert.deepEqual(parseProxyUrl('http://user:p%40ss@proxy.corp:3128'), {
      host: 'proxy.corp',
      port: 3128,
      authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}`,
      display: 'http://proxy.corp:3128',
    });
    assert.deepEqual(parseProxyUrl('proxy.corp:8080'), { host: 'proxy.corp', port: 8080, authorization: null, display: 'http://proxy.corp:8080' });
    assert.deepEqual(parseProxyUrl('http://[::1]:3128/'), { host: '::1', port: 3128, authorization: null, display: 'http://[::1]:3128' });
    assert.equal(server('HTTP://Proxy.Corp').port, 80);
  });

  it('refuses what is not an http:// proxy URL, saying why', () => {
    for (const [text, reason] of [
      ['https://proxy:3128', /scheme https/],
      ['socks5://proxy:1080', /scheme socks5/],
      ['http://proxy:3128/path', /no path/],
      ['http://proxy:99999', /not a URL/],
      ['http://', /not a URL|no host/],
    ] as const) {
      const parsed = parseProxyUrl(text);
      assert.ok('invalid' in parsed, text);
      assert.match(parsed.invalid, reason, text);
    }
  });
});

describe('noProxyMatches (curl rules)', () => {
  const cases: Array<[host: string, noProxy: string, matches: boolean]> = [
    ['example.com', 'example.com', true],
    ['www.example.com', 'example.com', true],
    ['www.example.com', '.example.com', true],
    ['example.com', '.example.com', true],
    ['notexample.com', 'example.com', false],
    ['example.com.evil', 'example.com', false],
    ['EXAMPLE.com', 'Example.COM', true],
    ['example.com.', 'example.com', true],
    ['example.com', 'example.com:8443', true],
    ['other.org', 'example.com, other.org', true],
    ['other.org', 'example.com other.org', true],
    ['anything', '*', true],
    ['anything', 'a.com,*', true],
    ['anything', '*.com', false],
    ['localhost', '', false],
    ['localhost', 'example.com', false],
    ['127.0.0.1', 'localhost', false],
    ['localhost', 'localhost', true],
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.1:8080', true],
    ['127.0.0.1', '127.0.0.0/8', true],
    ['10.1.2.3', '10.0.0.0/16', false],
    ['10.0.2.3', '10.0.0.0/16', true],
    ['127.0.0.1', '127.0.0', false],
    ['::1', '::1', true],
    ['::1', '[::1]:443', true],
    ['[::1]', '::1', true],
    ['fd00::5', 'fd00::/8', true],
    ['127.0.0.1', '::1', false],
    ['10.0.0.1', '.0.0.1', false],
  ];
  for (const [host, noProxy, matches] of cases) {
    it(`${JSON.stringify(host)} ${matches ? 'matches' : 'does not match'} NO_PROXY=${JSON.stringify(noProxy)}`, () => {
      assert.equal(noProxyMatches(host, noProxy), matches);
    });
  }
});

describe('chooseProxy', () => {
  const plain = { host: 'logs.example.com', tls: false };
  const secure = { host: 'logs.example.com', tls: true };
  const none = { proxy: null, ignoreEnvironment: false };

  it('the proxy key wins over the environment, and NO_PROXY does not apply to it', () => {
    const key = server('http://key-proxy:1');
    const chosen = chooseProxy(plain, { proxy: key, ignoreEnvironment: false }, { http_proxy: 'http://env:2', NO_PROXY: '*' });
    assert.deepEqual(chosen, { server: key, source: 'proxy' });
  });

  it('picks HTTPS_PROXY for TLS targets and HTTP_PROXY for plain ones, lower case first', () => {
    const env = { HTTP_PROXY: 'http://upper-http:1', http_proxy: 'http://lower-http:2', HTTPS_PROXY: 'http://upper-https:3' };
    assert.equal(chooseProxy(plain, none, env)?.server.host, 'lower-http');
    assert.equal(chooseProxy(plain, none, env)?.source, 'http_proxy');
    assert.equal(chooseProxy(secure, none, env)?.server.host, 'upper-https');
    assert.equal(chooseProxy(secure, none, { HTTP_PROXY: 'http://only-http:1' }), null, 'no HTTPS_PROXY: a TLS target goes direct');
    assert.equal(chooseProxy(plain, none, { HTTPS_PROXY: 'http://only-https:1' }), null, 'no HTTP_PROXY: a plain target goes direct');
    assert.equal(chooseProxy(plain, none, { http_proxy: '', HTTP_PROXY: 'http://upper:1' })?.server.host, 'upper', 'empty counts as unset');
  });

  it('NO_PROXY (or no_proxy) sends a named target direct; a loopback target is proxied unless named', () => {
    const env = { HTTP_PROXY: 'http://proxy:1' };
    assert.equal(chooseProxy(plain, none, { ...env, NO_PROXY: 'example.com' }), null);
    assert.equal(chooseProxy(plain, none, { ...env, no_proxy: '.example.com' }), null);
    assert.equal(chooseProxy(plain, none, { ...env, no_proxy: 'other.org', NO_PROXY: 'example.com' })?.server.host, 'proxy', 'no_proxy is read first');
    assert.equal(chooseProxy({ host: '127.0.0.1', tls: false }, none, env)?.server.host, 'proxy');
    assert.equal(chooseProxy({ host: 'localhost', tls: false }, none, env)?.server.host, 'proxy');
    assert.equal(chooseProxy({ host: '127.0.0.1', tls: false }, none, { ...env, NO_PROXY: '127.0.0.1' }), null);
  });

  it('net.proxy_env_ignore ignores the environment', () => {
    assert.equal(chooseProxy(plain, { proxy: null, ignoreEnvironment: true }, { HTTP_PROXY: 'http://proxy:1' }), null);
  });

  it('an environment variable that is not a proxy URL is a config error naming it', () => {
    assert.throws(
      () => chooseProxy(secure, none, { HTTPS_PROXY: 'https://proxy:443' }),
      (error: Error & { code?: string }) => error.code === 'WSBIT_CONFIG_PROXY' && /HTTPS_PROXY/.test(error.message) && /net\.proxy_env_ignore/.test(error.message),
    );
  });
});

describe('CONNECT request and answer', () => {
  it('writes CONNECT in authority form with Host and Proxy-Authorization', () => {
    assert.equal(
      connectRequest(server('http://a:b@proxy:1'), { host: 'logs.example.com', port: 443 }).toString(),
      `CONNECT logs.example.com:443 HTTP/1.1\r\nHost: logs.example.com:443\r\nProxy-Authorization: Basic ${Buffer.from('a:b').toString('base64')}\r\n\r\n`,
    );
    assert.equal(connectRequest(server('http://proxy:1'), { host: '::1', port: 80 }).toString(), 'CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n');
  });

  it('opens on any 2xx, keeps the bytes after the blank line, and waits for a split answer', () => {
    const whole = Buffer.from('HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\nTARGET');
    const answer = readProxyAnswer(whole, 'p');
    assert.equal(answer.kind, 'open');
    assert.equal(answer.kind === 'open' ? answer.rest.toString() : '', 'TARGET');
    for (let cut = 1; cut < whole.length - 6; cut++) assert.equal(readProxyAnswer(whole.subarray(0, cut), 'p').kind, 'more', `cut at ${cut}`);
    assert.equal(readProxyAnswer(Buffer.from('HTTP/1.0 204 No Content\r\nContent-Length: 10\r\n\r\n'), 'p').kind, 'open');
  });

  it('a refusal carries the status; garbage and an endless head are bad answers', () => {
    const refused = readProxyAnswer(Buffer.from('HTTP/1.1 407 Proxy Authentication Required\r\n'), 'http://p:1');
    assert.equal(refused.kind, 'failed');
    if (refused.kind === 'failed') {
      assert.equal(refused.error.status, 407);
      assert.equal(refused.error.message, 'proxy http://p:1 refused the tunnel: HTTP 407 Proxy Authentication Required');
    }
    const garbage = readProxyAnswer(Buffer.from('\x16\x03\x01'), 'p');
    assert.equal(garbage.kind === 'failed' && garbage.error.code, 'WSBIT_PROXY_BAD_RESPONSE');
    const endless = readProxyAnswer(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), Buffer.alloc(17_000, 'x')]), 'p');
    assert.equal(endless.kind === 'failed' && endless.error.code, 'WSBIT_PROXY_BAD_RESPONSE');
  });
});

describe('the proxy key in a config error', () => {
  it('quotes a bad value without its password', () => {
    assert.throws(
      () => resolveConfig(netClientKeys, [{ key: 'proxy', value: 'http://agent:s3cret@proxy.corp:3128/path' }], { instance: 'websocket.0', kind: 'output' }),
      (error: Error) => {
        assert.match(error.message, /invalid value 'http:\/\/agent:\*\*\*@proxy\.corp:3128\/path' for 'proxy'/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  });
});
