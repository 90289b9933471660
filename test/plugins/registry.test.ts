import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, PluginRegistry } from '../../src/plugins/registry.js';
import { defineOutput } from '../../src/pipeline/contracts.js';

test('every built-in plugin loads, and its code is the plugin its manifest describes', async () => {
  const registry = defaultRegistry();
  const kinds = ['input', 'filter', 'output'] as const;
  assert.equal(kinds.reduce((count, kind) => count + registry.names(kind).length, 0), 25);
  for (const kind of kinds) {
    for (const name of registry.names(kind)) {
      const manifest = registry.get(kind, name);
      const definition = await registry.load(kind, name);
      assert.equal(definition.kind, kind);
      assert.equal(definition.name, name);
      assert.equal(definition.schema, manifest?.schema, `${kind} ${name}: the same schema object the configuration was checked against`);
      assert.equal(definition.description, manifest?.description);
      assert.deepEqual(definition.serviceUriKeys, manifest?.serviceUriKeys);
      assert.equal(typeof definition.create, 'function');
      assert.equal(await registry.load(kind, name.toUpperCase()), definition, 'loaded once, found case-insensitively');
    }
  }
});

test('a plugin registered with its code is its own manifest; code that is not the manifest plugin is refused', async () => {
  const registry = new PluginRegistry();
  const capture = defineOutput({ kind: 'output', name: 'capture', description: 'test', schema: [], create: () => ({ flush: async () => 'ok' as const }) });
  registry.register(capture);
  assert.equal(registry.output('capture'), capture);
  assert.equal(await registry.load('output', 'capture'), capture);

  // Its code carries a schema of its own, not the one a configuration would have been checked against.
  registry.registerLazy({ kind: 'output', name: 'lazy', description: 'test', schema: [] }, async () => ({ ...capture, name: 'lazy', schema: [] }));
  assert.deepEqual(registry.names('output'), ['capture', 'lazy']);
  await assert.rejects(registry.load('output', 'lazy'), /the code loaded for output plugin 'lazy' is not that plugin's/);
  await assert.rejects(registry.load('output', 'nope'), /no output plugin 'nope'/);
});
