// Writes oclif.manifest.json so the CLI does not import every command at start-up.
// (The `oclif` packaging tool that usually does this needs Node 22.)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'oclif.manifest.json');
fs.rmSync(file, { force: true });
const config = await Config.load(root);
const plugin = config.getPluginsList().find((p) => p.root === root);
const manifest = plugin.manifest;
fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
console.error(`wrote oclif.manifest.json (${Object.keys(manifest.commands).length} commands)`);
