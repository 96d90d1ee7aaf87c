import { ViewtallyError } from '../schemas/errors.ts';

/** A sink (Redis, ClickHouse, Kafka) could not be reached or refused a write that may succeed later. */
export class SinkUnavailableError extends ViewtallyError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, cause });
  }
}

/** This worker lost the partition to another worker; it must not write for it any more. */
export class FencedError extends ViewtallyError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** A stored checkpoint in a format this version cannot read; the message says what to do. */
export class CheckpointFormatError extends ViewtallyError {}
