/**
 * Every command in the README's `sh` code blocks, and where a test runs it. test/e2e/readme.test.ts
 * checks that this list and the README agree; test/e2e/conf.test.ts runs the ones marked for it, with
 * the examples' ports replaced by free ones. The `nc` lines say `-q0`: netcat-openbsd (Debian's nc)
 * and netcat-traditional then return once the line is sent; without it they wait for the server.
 */
export const RUN_IN_CONF_TEST = 'run as written by test/e2e/conf.test.ts (README commands)';

export const readmeCommandChecks: Record<string, string> = {
  'npm ci': '.ci/run runs it in a fresh clone (test/e2e/self-contained.test.ts checks .ci/run)',
  'npm test': '.ci/run runs it in a fresh clone (test/e2e/self-contained.test.ts checks .ci/run)',
  'npm start': 'test/e2e/conf.test.ts runs conf/quickstart.yaml with npm start',
  'WSBIT_TOKEN=choose-a-secret ./bin/wsbit -c conf/aggregator.conf': RUN_IN_CONF_TEST,
  'WSBIT_TOKEN=choose-a-secret ./bin/wsbit -c conf/agent.conf': RUN_IN_CONF_TEST,
  'echo \'{"message":"hello from the agent"}\' | nc -q0 127.0.0.1 5170': RUN_IN_CONF_TEST,
  "./bin/wsbit -i dummy -p samples=3 -o stdout -m '*' -f 0.5": RUN_IN_CONF_TEST,
  './bin/wsbit -i websocket://127.0.0.1:8080 -o stdout': RUN_IN_CONF_TEST,
  "./bin/wsbit -i cpu -t cpu -o websocket://127.0.0.1:8080/something -m '*'": RUN_IN_CONF_TEST,
  './bin/wsbit -i tcp://127.0.0.1:5170 -o stdout -p format=json_lines': RUN_IN_CONF_TEST,
  'echo \'{"key 1": 123456789, "key 2": "abcdefg"}\' | nc -q0 127.0.0.1 5170': RUN_IN_CONF_TEST,
  './bin/wsbit -c conf/tcp-to-websocket.conf': 'test/e2e/conf.test.ts (conf/tcp-to-websocket.conf runs as documented)',
  './bin/wsbit -c conf/tcp-to-websocket.conf -D': RUN_IN_CONF_TEST,
  './bin/wsbit -o websocket -h': RUN_IN_CONF_TEST,
  './bin/wsbit -c conf/http-to-browser.conf': 'test/e2e/conf.test.ts (conf/http-to-browser.conf runs as documented)',
  './bin/wsbit -i http://127.0.0.1:8888 -o websocket_server://127.0.0.1:8080 -p add_time=on -p buffered_messages=100 -p token=MyT0ken': RUN_IN_CONF_TEST,
  'curl -X POST -d \'json={"action":"login","user":6}\' http://127.0.0.1:8888/foo/bar':
    'test/e2e/conf.test.ts sends the same form post with fetch (curl is not a dependency of the tests)',
  "curl --include --no-buffer --header 'Connection: Upgrade' --header 'Upgrade: websocket' --header 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' --header 'Sec-WebSocket-Version: 13' 'http://127.0.0.1:8080/?token=MyT0ken'":
    'test/e2e/conf.test.ts sends the same upgrade request over a TCP socket (curl is not a dependency of the tests)',
};

/** The commands of the README's `sh` blocks: every line that is not blank or a comment. */
export function readmeCommands(readme: string): string[] {
  return [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap((block) =>
    (block[1] ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
}
