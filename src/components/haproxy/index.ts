export * from './config.js';
export * from './stats.js';
