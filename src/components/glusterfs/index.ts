/** The pure part of the GlusterFS component: models and facts in, commands / fstab / plans / checks out. */
export * from './model.js';
export * from './cli.js';
export * from './volume.js';
export * from './status.js';
export * from './client.js';
export * from './health.js';
export * from './bricks.js';
export { parseXml, XmlParseError, type XmlElement } from './xml.js';
