/**
 * The action's reporter: the only module that talks to @actions/core for the
 * log, annotations, the job summary, outputs, masking and the step's failure.
 * Everything it prints has passed through the Redactor first; core's own masking
 * (setSecret) is a second line of defence for lines we did not produce.
 */
import * as actionsCore from '@actions/core';

import { Redactor } from '../engine/redact.js';
import { ANNOTATIONS_PER_TYPE, planAnnotations, type AnnotationRecord, type ReportProblem, type Severity } from './annotations.js';
import { prefixed, type Logger } from './log.js';
import { buildOutputs, type ActionOutputs } from './outputs.js';
import { runError, runProblems, runStatus, type RunReport } from './run-report.js';
import { buildJobSummary } from './summary.js';

/** The part of @actions/core we use; tests pass a recording fake. */
export interface CoreApi {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, properties?: actionsCore.AnnotationProperties): void;
  error(message: string, properties?: actionsCore.AnnotationProperties): void;
  notice(message: string, properties?: actionsCore.AnnotationProperties): void;
  startGroup(name: string): void;
  endGroup(): void;
  setOutput(name: string, value: string): void;
  setFailed(message: string): void;
  setSecret(secret: string): void;
  summary: { addRaw(text: string, addEOL?: boolean): { write(options?: { overwrite?: boolean }): Promise<unknown> } };
}

export interface ActionsReporterOptions {
  core?: CoreApi;
  /** Reuse a redactor; by default one is made that also calls core.setSecret. */
  redactor?: Redactor;
  annotationLimit?: number;
}

export class ActionsReporter implements Logger {
  readonly redactor: Redactor;
  private readonly core: CoreApi;
  private readonly limit: number;
  private readonly used: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  private groupDepth = 0;
  private readonly forwardsToCore: boolean;

  constructor(options: ActionsReporterOptions = {}) {
    this.core = options.core ?? (actionsCore as unknown as CoreApi);
    // Our own redactor forwards each new secret to core.setSecret, so code that
    // only holds the redactor (inventory loading, derived passwords) masks both.
    this.forwardsToCore = options.redactor === undefined;
    this.redactor = options.redactor ?? new Redactor({ onAdd: (value) => this.core.setSecret(value) });
    this.limit = options.annotationLimit ?? ANNOTATIONS_PER_TYPE;
  }

  /**
   * Masks a secret the moment it is read or derived: in the runner's log (setSecret)
   * and in everything we render (the redactor, which also catches encoded forms).
   */
  registerSecret(value: string | undefined): void {
    if (!value) return;
    if (!this.forwardsToCore) this.core.setSecret(value);
    this.redactor.add(value);
  }

  info(message: string, host?: string): void {
    this.core.info(this.redactor.redact(prefixed(message, host)));
  }

  /**
   * Warnings become annotations while the step's warning budget lasts (GitHub
   * shows 10); after that they are plain log lines, so they are never lost.
   */
  warn(message: string, host?: string): void {
    const text = this.redactor.redact(prefixed(message, host));
    if (this.used.warning < this.limit) {
      this.used.warning++;
      this.core.warning(text);
    } else {
      this.core.info(`Warning: ${text}`);
    }
  }

  /** Something to know that is not a problem (a fork's plan posted no comment): a notice annotation. */
  notice(message: string): void {
    this.core.notice(this.redactor.redact(message));
  }

  debug(message: string, host?: string): void {
    this.core.debug(this.redactor.redact(prefixed(message, host)));
  }

  /**
   * Actions log groups cannot nest; an inner group (or one opened by parallel
   * work while another is open) just prints its title.
   */
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    if (this.groupDepth > 0) {
      this.core.info(this.redactor.redact(`— ${title}`));
      return fn();
    }
    this.groupDepth++;
    this.core.startGroup(this.redactor.redact(title));
    try {
      return await fn();
    } finally {
      this.core.endGroup();
      this.groupDepth--;
    }
  }

  /**
   * Emits problems as file annotations, sorted by severity then position, at
   * most the per-type limit (counting warnings already emitted). Returns those
   * not emitted; the job summary lists every problem anyway.
   */
  annotate(problems: readonly ReportProblem[]): AnnotationRecord[] {
    const { emit, overflow } = planAnnotations(problems, this.redactor, Number.MAX_SAFE_INTEGER);
    const rest: AnnotationRecord[] = [];
    for (const record of [...emit, ...overflow]) {
      if (this.used[record.severity] >= this.limit) {
        rest.push(record);
        continue;
      }
      this.used[record.severity]++;
      const properties: actionsCore.AnnotationProperties = {
        title: record.title,
        file: record.file,
        startLine: record.startLine,
        startColumn: record.startColumn,
      };
      if (record.severity === 'error') this.core.error(record.message, properties);
      else if (record.severity === 'warning') this.core.warning(record.message, properties);
      else this.core.notice(record.message, properties);
    }
    return rest;
  }

  setOutputs(outputs: ActionOutputs): void {
    for (const [name, value] of Object.entries(outputs)) this.core.setOutput(name, this.redactor.redact(value));
  }

  async writeSummary(markdown: string): Promise<void> {
    await this.core.summary.addRaw(this.redactor.redact(markdown), true).write();
  }

  /**
   * Everything at the end of a run, in this order: annotations, summary,
   * outputs, then the step's failure. A failure to write the summary is logged
   * and does not hide the run's own result.
   */
  async report(report: RunReport): Promise<ActionOutputs> {
    this.annotate(runProblems(report));
    try {
      await this.writeSummary(buildJobSummary(report, { redactor: this.redactor, annotationLimit: this.limit }));
    } catch (error) {
      this.core.info(this.redactor.redact(`Warning: could not write the job summary: ${error instanceof Error ? error.message : String(error)}`));
    }
    const outputs = buildOutputs(report, this.redactor);
    this.setOutputs(outputs);
    const error = runError(report);
    if (runStatus(report) === 'failed') {
      const message = error
        ? `${error.host ? `[${error.host}] ` : ''}${error.message}${error.hint ? `\n${error.hint}` : ''}`
        : 'The run failed.';
      this.core.setFailed(this.redactor.redact(message));
    }
    return outputs;
  }
}
