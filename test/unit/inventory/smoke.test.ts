import { readFileSync } from 'node:fs';
import { test } from 'vitest';
import { loadInventory, parseInventory, selectEnvironment } from '../../../src/inventory';
test('smoke', () => {
  for (const f of ['examples/moodle.yml', 'examples/openedx.yml']) {
    const r = parseInventory(readFileSync(f, 'utf8'), f);
    console.log(f, JSON.stringify(r.problems, null, 1));
    if (r.inventory) console.log(JSON.stringify(selectEnvironment(r.inventory, Object.keys(r.inventory.environments)[0]!, f), null, 1).slice(0, 3000));
  }
});
