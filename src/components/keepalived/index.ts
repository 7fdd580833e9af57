export * from './config.js';
export * from './ipaddr.js';
export * from './vrid.js';
