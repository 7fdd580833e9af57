export * from './connection.js';
export * from './snippets.js';
export * from './notes.js';
