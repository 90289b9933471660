import { readFileSync, writeFileSync } from 'node:fs';
import { renderPluginTables } from '../src/cli/readme-tables.js';

// Rewrites the README's plugin tables from the schemas; `npm run docs` runs it, and a test fails
// when the README differs from what this would write.
const path = 'README.md';
const updated = renderPluginTables(readFileSync(path, 'utf8'));
writeFileSync(path, updated);
console.log('README.md plugin tables updated');
