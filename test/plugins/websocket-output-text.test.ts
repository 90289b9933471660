/**
 * Fluent Bit's file output text formats (plain, csv, ltsv, template) on the websocket output, as a `ws`
 * server receives them, against the real Fluent Bit 5.1.1's file output recorded in
 * test/fixtures/fluent-bit/text-formats (make.sh there has the commands). Where Fluent Bit is wrong
 * (csv quoting, nested values as Ruby hashes, `{t}` in a template) the expected bytes are written here.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startTestAgent } from './websocket-output-support.js';

const fixtures = join(fluentBitFixtures, 'text-formats');
const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));
/** The record as make.sh gave it to Fluent Bit, text unchanged (JSON.parse would round `big` and make `3.0` an integer). */
const recordBody = (name: string): string => fixture(`${name}.json`).toString('utf8').trim();

interface Message {
  data: Buffer;
  isBinary: boolean;
}

const servers: WebSocketServer[] = [];
after(async () => {
  for (const wss of servers) {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

/**
 * Two copies of `body` in one chunk at 1700000000.123456789 (as make.sh feeds Fluent Bit) through the
 * websocket output; the first `count` messages a `ws` server receives.
 */
async function send(body: string, outputExtra: string[], count: number): Promise<Message[]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await once(wss, 'listening');
  const messages: Message[] = [];
  wss.on('connection', (ws) => ws.on('message', (data: Buffer, isBinary: boolean) => messages.push({ data: Buffer.from(data), isBinary })));
  const agent = await startTestAgent([
    '-i', 'dummy', '-p', `dummy=${body}`, '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789',
    '-p', 'fixed_timestamp=on', '-p', 'samples=1', '-p', 'copies=2',
    '-o', `websocket://127.0.0.1:${(wss.address() as AddressInfo).port}/`, ...outputExtra, '-f', '0.2',
  ]);
  try {
    await agent.waitFor(() => messages.length >= count, `${count} message(s) at the ws server`);
  } finally {
    await agent.stop();
  }
  return messages.slice(0, count);
}

/** The fixtures' variants: the file's suffix and the keys make.sh gave Fluent Bit. */
const variants: Array<{ file: string; keys: string[] }> = [
  { file: 'plain', keys: ['format=plain'] },
  { file: 'csv', keys: ['format=csv'] },
  { file: 'csv.column_names', keys: ['format=csv', 'csv_column_names=on'] },
  { file: 'csv.tab', keys: ['format=csv', 'delimiter=tab'] },
  { file: 'ltsv', keys: ['format=ltsv'] },
  { file: 'ltsv.comma_space', keys: ['format=ltsv', 'delimiter=comma', 'label_delimiter=space'] },
  { file: 'template', keys: ['format=template'] },
  { file: 'template.custom', keys: ['format=template', 'template={time} [{level}] {message} n={n} f={f} b={b} z={z} {missing} {a{level}} x{'] },
];
const params = (keys: string[]): string[] => keys.flatMap((key) => ['-p', key]);

describe("text formats: the bytes of Fluent Bit's file output", () => {
  for (const { file, keys } of variants) {
    it(`${file}: one TEXT message per chunk, equal to fluent-bit -o file ${keys.map((k) => `-p ${k}`).join(' ')}`, async () => {
      const [message] = await send(recordBody('record'), params(keys), 1);
      assert.equal(message?.isBinary, false, 'a text frame');
      assert.equal(message?.data.toString('latin1'), fixture(`record.${file}.txt`).toString('latin1'));
    });
  }

  it('message_mode record: one line per message, without its newline (with it when message_newline is on)', async () => {
    const lines = fixture('record.csv.column_names.txt').toString('latin1').split('\n').slice(0, 3);
    const bare = await send(recordBody('record'), params(['format=csv', 'csv_column_names=on', 'message_mode=record']), 3);
    assert.deepEqual(bare.map((m) => m.data.toString('latin1')), lines, 'the header is a message of its own');
    assert.ok(bare.every((m) => !m.isBinary));
    const ended = await send(recordBody('record'), params(['format=ltsv', 'message_mode=record', 'message_newline=on']), 2);
    const ltsv = fixture('record.ltsv.txt').toString('latin1');
    assert.equal(ended.map((m) => m.data.toString('latin1')).join(''), ltsv);
    assert.equal(ended[0]?.data.toString('latin1'), ltsv.slice(0, ltsv.indexOf('\n') + 1));
  });

  it('message_mode record: a line break inside a csv field stays inside its message', async () => {
    const messages = await send('{"m":"two\\nlines","n":1}', params(['format=csv', 'message_mode=record']), 2);
    assert.deepEqual(messages.map((m) => m.data.toString('utf8')), ['1700000000.123456789,"two\nlines",1', '1700000000.123456789,"two\nlines",1']);
  });
});

describe('text formats: where wsbit differs from Fluent Bit on purpose', () => {
  const fbLine = (name: string): string => fixture(name).toString('utf8').split('\n')[0] ?? '';
  const ourLine = async (keys: string[]): Promise<string> => {
    const [message] = await send(recordBody('differs'), params(keys), 1);
    return message?.data.toString('utf8').split('\n')[0] ?? '';
  };

  it('csv quotes as RFC 4180: quotes doubled, nested values as JSON and quoted', async () => {
    assert.equal(fbLine('differs.csv.txt'), '1700000000.123456789,"say "hi", then go",{"k"=>[1, 2], "s"=>"v"},["a", 1.500000, nil],"a\tb",1');
    assert.equal(await ourLine(['format=csv']), '1700000000.123456789,"say ""hi"", then go","{""k"":[1,2],""s"":""v""}","[""a"",1.5,null]","a\tb",1');
  });

  it('csv with a tab delimiter quotes a field that holds a tab', async () => {
    assert.equal(await ourLine(['format=csv', 'delimiter=tab']), '1700000000.123456789\t"say ""hi"", then go"\t"{""k"":[1,2],""s"":""v""}"\t"[""a"",1.5,null]"\t"a\tb"\t1');
  });

  it('ltsv prints nested values as JSON; everything else as Fluent Bit', async () => {
    const fb = fbLine('differs.ltsv.txt');
    assert.equal(fb, '"time":1700000000.123457\t"message":"say "hi", then go"\t"nested":{"k"=>[1, 2], "s"=>"v"}\t"list":["a", 1.500000, nil]\t"tab":"a\tb"\t"n":1');
    assert.equal(await ourLine(['format=ltsv']), fb.replace('{"k"=>[1, 2], "s"=>"v"}', '{"k":[1,2],"s":"v"}').replace('["a", 1.500000, nil]', '["a",1.5,null]'));
  });

  it('plain and template are the same bytes as Fluent Bit for these records too', async () => {
    const [plain] = await send(recordBody('differs'), params(['format=plain']), 1);
    assert.equal(plain?.data.toString('latin1'), fixture('differs.plain.txt').toString('latin1'));
    const [template] = await send(recordBody('differs'), params(['format=template']), 1);
    assert.equal(template?.data.toString('latin1'), fixture('differs.template.txt').toString('latin1'));
  });

  it('a template prints a nested value as JSON, and {t} or {} as written (Fluent Bit prints the time for any prefix of "time")', async () => {
    assert.equal(await ourLine(['format=template', 'template={nested} {list} {t} {} {time}']), '{"k":[1,2],"s":"v"} ["a",1.5,null] {t} {} 1700000000.123457');
  });

  it('a literal delimiter is used as it is (Fluent Bit ignores any but \\t, tab, space and comma)', async () => {
    assert.equal(await ourLine(['format=csv', 'delimiter=;']), '1700000000.123456789;"say ""hi"", then go";"{""k"":[1,2],""s"":""v""}";"[""a"",1.5,null]";"a\tb";1');
  });

  it('an empty record still gives its line (Fluent Bit skips it in csv and ltsv)', async () => {
    const [csv] = await send('{}', params(['format=csv']), 1);
    assert.equal(csv?.data.toString('utf8'), '1700000000.123456789\n1700000000.123456789\n');
  });
});
