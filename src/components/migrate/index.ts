/** The pure part of migrate-storage's data moves: file manifests and rsync bridging, database dump/convert/verify. */
export * from './files.js';
export * from './database.js';
