/**
 * Decoders (Decode_Field, Decode_Field_As), Time_Zone, Time_Strict off and the missing-day rule, against
 * Fluent Bit 5.1.1's own output: test/fixtures/fluent-bit/parsers/CASE.fluent-bit.out is what it printed
 * for CASE.txt read by tail with the parser CASE (make.sh there has the command). wsbit runs the same
 * inputs through tail with the same parsers file and prints them with its stdout json_lines encoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAgent } from '../helpers/pipeline.js';
import { repoRoot } from '../helpers/paths.js';
import { chunkToJson } from '../../src/codec/json.js';
import { readEvents } from '../../src/codec/event.js';
import { ParserRegistry } from '../../src/pipeline/parser-registry.js';
import { loadParsersFile } from '../../src/app/config-files.js';
import { tempDir } from '../helpers/temp.js';
import { compileTimeFormat } from '../../src/parsers/time-format.js';
import { loadTimeZone } from '../../src/parsers/time-zone.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'fluent-bit', 'parsers');
const cases = fs.readdirSync(fixtures).filter((file) => file.endsWith('.txt')).map((file) => file.slice(0, -'.txt'.length)).sort();
/** Every parsed time in the fixtures is before this; a later `date` is the time tail read the line. */
const LATEST_PARSED_TIME = Date.UTC(2025, 0, 1) / 1000;

interface Line {
  date: number;
  rest: string;
}

function splitLine(line: string): Line {
  const match = /^\{"date":([0-9.]+)(.*)$/.exec(line);
  if (match === null) throw new Error(`unexpected line ${line}`);
  return { date: Number(match[1]), rest: match[2] as string };
}

test('the fixtures cover every case, each input line printed once by Fluent Bit', () => {
  assert.ok(cases.length >= 20, `${cases.length} cases`);
  for (const name of cases) {
    const inputs = fs.readFileSync(path.join(fixtures, `${name}.txt`), 'utf8').split('\n').filter((line) => line !== '');
    const outputs = fs.readFileSync(path.join(fixtures, `${name}.fluent-bit.out`), 'utf8').split('\n').filter((line) => line !== '');
    assert.equal(outputs.length, inputs.length, name);
  }
});

test("tail with each parser gives Fluent Bit's records and times, line for line", async (t) => {
  const started = Date.now() / 1000;
  const argv = ['-R', path.join(fixtures, 'parsers.conf')];
  for (const name of cases) {
    argv.push('-i', 'tail', '-t', name, '-p', `path=${path.join(fixtures, `${name}.txt`)}`, '-p', `parser=${name}`, '-p', 'read_from_head=on');
  }
  argv.push('-o', 'capture', '-m', '*', '-f', '0.05');
  const running = await startAgent(argv);
  t.after(() => running.stop());
  const expected = new Map(cases.map((name) => [
    name,
    fs.readFileSync(path.join(fixtures, `${name}.fluent-bit.out`), 'utf8').split('\n').filter((line) => line !== '').map(splitLine),
  ]));
  const total = [...expected.values()].reduce((sum, lines) => sum + lines.length, 0);
  await running.waitFor(() => running.events().length === total, `${total} records`);

  const seen = new Map<string, Line[]>();
  for (const chunk of running.chunks) {
    const text = chunkToJson(chunk.data, { format: 'json_lines', dateKey: 'date', dateFormat: 'double', escapeUnicode: true }).toString('utf8');
    const lines = seen.get(chunk.tag) ?? [];
    lines.push(...text.split('\n').filter((line) => line !== '').map(splitLine));
    seen.set(chunk.tag, lines);
  }
  for (const name of cases) {
    const want = expected.get(name) ?? [];
    const got = seen.get(name) ?? [];
    assert.deepEqual(got.map((line) => line.rest), want.map((line) => line.rest), `${name}: records`);
    want.forEach((line, i) => {
      const date = got[i]?.date ?? Number.NaN;
      if (line.date < LATEST_PARSED_TIME) assert.equal(date, line.date, `${name} line ${i + 1}: time`);
      else assert.ok(date >= started - 1, `${name} line ${i + 1}: no time in the line, so the read time; got ${date}`);
    });
  }
  // To the nanosecond: Fluent Bit reads a fraction as a double and truncates it.
  const nanoseconds = [...fs.readFileSync(path.join(fixtures, 'fractions.nanoseconds.out'), 'utf8').matchAll(/\[\[(\d+\.\d{9}),/g)].map((match) => match[1]);
  const times = running.chunks.filter((chunk) => chunk.tag === 'fractions').flatMap((chunk) => readEvents(chunk.data).map((event) => `${event.sec}.${String(event.nsec).padStart(9, '0')}`));
  assert.ok(nanoseconds.length > 0);
  assert.deepEqual(times, nanoseconds);
});

function loadError(text: string): string {
  const dir = tempDir('wsbit-parsers-errors-');
  const file = path.join(dir, 'parsers.conf');
  fs.writeFileSync(file, text);
  try {
    loadParsersFile(file, new ParserRegistry());
  } catch (error) {
    return `${(error as Error).message} @${file}`;
  }
  return 'loaded';
}

const section = (lines: string[]): string => `[PARSER]\n    Name p\n    Format regex\n    Regex ^(?<time>.*)$\n${lines.map((line) => `    ${line}\n`).join('')}`;

test('Time_Zone errors stop start-up and name the file, line and key (Fluent Bit refuses the same files)', () => {
  const cases: Array<[string[], RegExp]> = [
    [['Time_Format %H', 'Time_Zone Mars/Olympus'], /:6: \[parser:p\] invalid or unavailable time_zone 'Mars\/Olympus'.*America\/New_York/],
    [['Time_Format %H', 'Time_Zone UTC'], /invalid or unavailable time_zone 'UTC'/],
    [['Time_Format %H', 'Time_Zone america/new_york'], /invalid or unavailable time_zone 'america\/new_york'/],
    [['Time_Zone America/New_York'], /:5: \[parser:p\] time_zone requires time_format/],
    [['Time_Format %H', 'Time_Offset +0100', 'Time_Zone Europe/Berlin'], /:7: .*time_zone cannot be combined with time_offset/],
    [['Time_Format %H', 'Time_System_Timezone on', 'Time_Zone Europe/Berlin'], /time_zone cannot be combined with time_system_timezone/],
  ];
  for (const [lines, pattern] of cases) {
    const message = loadError(section(lines));
    assert.match(message, pattern);
    const file = message.slice(message.lastIndexOf('@') + 1);
    assert.ok(message.includes(`${file}:`), `names the file: ${message}`);
  }
  assert.equal(loadError(section(['Time_Format %H', 'Time_Zone Etc/UTC'])), 'loaded');
});

test('a bad Decode_Field rule drops all the parser\'s rules with a warning, as Fluent Bit does', () => {
  for (const rule of ['Decode_Field_As bogus a', 'Decode_Field_As escaped']) {
    const dir = tempDir('wsbit-parsers-decoders-');
    const file = path.join(dir, 'parsers.conf');
    fs.writeFileSync(file, `[PARSER]\n    Name p\n    Format regex\n    Regex ^(?<a>.*)$\n    Decode_Field_As escaped a\n    ${rule}\n`);
    const registry = new ParserRegistry();
    const warnings = loadParsersFile(file, registry);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6: decode_field_as: .*all Decode_Field rules of this parser are ignored`));
    const outcome = registry.get('p')?.parse(Buffer.from('a\\tb'));
    assert.ok(outcome?.ok);
    assert.equal(outcome.body.toString('latin1'), '\x81\xa1a\xa4a\\tb');
  }
});

test("a format without a year takes today's date where the time is read: UTC, or the Time_Zone", () => {
  const newYork = loadTimeZone('America/New_York');
  assert.ok(newYork);
  // 02:00Z on June 1 is still May 31 (22:00 EDT) in New York.
  const now = Date.UTC(2023, 5, 1, 2, 0, 0);
  assert.equal(compileTimeFormat('%H:%M').parse('23:00', now)?.sec, Date.UTC(2023, 5, 1, 23, 0) / 1000);
  assert.equal(compileTimeFormat('%H:%M', { timeZone: newYork }).parse('23:00', now)?.sec, Date.UTC(2023, 5, 1, 3, 0) / 1000);
  // Syslog's month and day replace today's; a day of the year replaces both.
  assert.equal(compileTimeFormat('%b %d %H:%M:%S', { timeZone: newYork }).parse('Jan 15 12:00:00', now)?.sec, Date.UTC(2023, 0, 15, 17, 0) / 1000);
  assert.equal(compileTimeFormat('%j %H').parse('032 01', now)?.sec, Date.UTC(2023, 1, 1, 1, 0) / 1000);
  // Time_Strict off with nothing readable: today at midnight, as Fluent Bit's prefilled struct tm gives.
  assert.equal(compileTimeFormat('%H:%M', { strict: false }).parse('garbage', now)?.sec, Date.UTC(2023, 5, 1) / 1000);
  assert.equal(compileTimeFormat('%H:%M').parse('garbage', now), null);
});

test('a Decode_Field rule that can only give a string is reported once, at load', () => {
  const dir = tempDir('wsbit-parsers-decoders-');
  const file = path.join(dir, 'parsers.conf');
  fs.writeFileSync(file, '[PARSER]\n    Name p\n    Format regex\n    Regex ^(?<a>.*)$\n    Decode_Field json a try_next\n    Decode_Field escaped a\n');
  const warnings = loadParsersFile(file, new ParserRegistry());
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /\[parser:p\] Decode_Field escaped a: a Decode_Field backend other than json gives a string/);
});
