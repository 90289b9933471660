import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/base/errors.js';
import { launchAgent } from '../helpers/pipeline.js';

/**
 * Filters on the three paths a record can take: an input's processors, the shared [FILTER]s, and an
 * output's processors. A filter that releases records later (multiline) goes on from where it stands.
 */
describe('filters that release records later, on each path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-processor-paths-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, lines: string[]): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  };

  it("multiline as an input's processor: a traceback released by its timer still passes the shared filters", async () => {
    const file = write('input-processor.yaml', [
      'pipeline:',
      '  inputs:',
      '    - name: tcp',
      '      listen: 127.0.0.1',
      '      port: 0',
      '      tag: app',
      '      processors:',
      '        logs:',
      '          - name: multiline',
      '            multiline.parser: python',
      '            multiline.key_content: log',
      '            flush_ms: 500',
      '  filters:',
      '    - name: record_modifier',
      '      match: app',
      '      record: shared yes',
    ]);
    const agent = await launchAgent(['-c', file, '-o', 'capture', '-m', '*', '-f', '0.2']);
    try {
      const lines = [
        'Traceback (most recent call last):',
        '  File "app.py", line 3, in <module>',
        '    main()',
        'ValueError: bad value',
      ];
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(agent.tcpPort(), '127.0.0.1', () => {
          socket.end(lines.map((log) => JSON.stringify({ log: `${log}\n` })).join('\n') + '\n');
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await agent.waitFor(() => agent.events().length >= 1, 'the joined traceback');
      const [event] = agent.events();
      assert.equal(agent.events().length, 1);
      const body = event?.body as Record<string, unknown>;
      assert.equal(body['log'], lines.map((log) => `${log}\n`).join(''));
      assert.equal(body['shared'], 'yes');
    } finally {
      await agent.stop();
    }
  });

  it("multiline as an output's processor is refused at start, naming where it can run", async () => {
    const file = write('output-processor.yaml', [
      'pipeline:',
      '  inputs:',
      '    - name: dummy',
      '  outputs:',
      '    - name: stdout',
      '      match: "*"',
      '      processors:',
      '        logs:',
      '          - name: multiline',
      '            multiline.parser: java',
    ]);
    await assert.rejects(launchAgent(['-c', file]), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /runs as a \[FILTER\] or an input's processor, not as an output's processor/);
      return true;
    });
  });
});
