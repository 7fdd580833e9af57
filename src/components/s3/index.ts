/** The pure part of the S3 target: rclone commands with credentials on stdin, report parsers, verdicts. */
export * from './rclone.js';
