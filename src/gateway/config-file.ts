/**
 * The gateway's config text, parsed and checked (./config-parse.ts), with clawdfly's schema
 * mirror (./schema.ts) loaded and registered: importing this module makes checkConfigText ready
 * for every runtime. Doctor imports ./config-parse.ts instead and loads this module only when it
 * has to (zod is the largest library in the bundle).
 */
import { validateConfigObject } from './schema.js';
import { registerConfigSchema } from './config-parse.js';

registerConfigSchema(validateConfigObject);

export * from './config-parse.js';
