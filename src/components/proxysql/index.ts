export * from './model.js';
export * from './sql.js';
export * from './runtime.js';
