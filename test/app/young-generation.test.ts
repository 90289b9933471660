import assert from 'node:assert/strict';
import test from 'node:test';
import { growthFactorFor, youngGenerationSizedByUser, YOUNG_SEMI_SPACE_BYTES } from '../../src/app/young-generation.js';

const MB = 1024 * 1024;

test('the growth factor takes the young generation to its target in one growth, and no further', () => {
  assert.equal(growthFactorFor(1 * MB, 4 * MB), 4);
  assert.equal(growthFactorFor(2 * MB, 4 * MB), 2);
  assert.equal(growthFactorFor(3 * MB, 4 * MB), 2, 'never a factor of 1 below the target');
  assert.equal(growthFactorFor(4 * MB, 4 * MB), 1);
  assert.equal(growthFactorFor(16 * MB, 4 * MB), 1);
  assert.equal(growthFactorFor(0, 4 * MB), 1, 'nothing read: no growth');
  assert.equal(YOUNG_SEMI_SPACE_BYTES, 1 * MB);
});

test("node flags of the user's own that size the young generation are noticed, on the command line or in NODE_OPTIONS", () => {
  assert.equal(youngGenerationSizedByUser([], undefined), false);
  assert.equal(youngGenerationSizedByUser(['--max-old-space-size=100'], '--enable-source-maps'), false);
  assert.equal(youngGenerationSizedByUser(['--max-semi-space-size=8'], undefined), true);
  assert.equal(youngGenerationSizedByUser([], '--trace-gc --min_semi_space_size=2'), true);
  assert.equal(youngGenerationSizedByUser([], '--semi-space-growth-factor=4'), true);
});
