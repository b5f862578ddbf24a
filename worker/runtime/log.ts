import { pino, stdSerializers, type Logger as Pino } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured logs: one JSON object per line, `event` naming what happened, `error` fields with stack and cause chain. */
export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function wrap(p: Pino): Logger {
  return {
    debug: (event, fields) => p.debug(fields ?? {}, event),
    info: (event, fields) => p.info(fields ?? {}, event),
    warn: (event, fields) => p.warn(fields ?? {}, event),
    error: (event, fields) => p.error(fields ?? {}, event),
    child: (fields) => wrap(p.child(fields)),
  };
}

/**
 * A pino logger writing `{"level":"info","time":"<ISO>",...base,...fields,"event":"..."}` lines to stdout
 * (synchronously, so nothing is lost at exit), or to `write` (tests).
 */
export function createLogger(base: Record<string, unknown>, minLevel: LogLevel = 'info', write?: (line: string) => void): Logger {
  const p = pino(
    {
      level: minLevel,
      base,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: stdSerializers.errWithCause, err: stdSerializers.errWithCause },
    },
    write ? { write } : pino.destination({ dest: 1, sync: true }),
  );
  return wrap(p);
}
