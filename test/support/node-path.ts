/**
 * Prints the path of the suite's cached Node binary of the given major (installing it first when
 * the cache has none), for benches written as plain .mjs: `vite-node test/support/node-path.ts 22`.
 */
import { ensureNodeMajor } from './real-gateway.js';

const major = Number(process.argv[2] ?? '22');
if (!Number.isInteger(major)) throw new Error(`usage: node-path.ts <major>, got ${process.argv[2]}`);
console.log(await ensureNodeMajor(major));
