/** The pure part of the Galera component: models in, configs / SQL / decisions out. */
export * from './model.js';
export * from './config.js';
export * from './status.js';
export * from './recover.js';
export * from './sql.js';
export { formatTable, parseBatchRows, unescapeBatchField } from './table.js';
