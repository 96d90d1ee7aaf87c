/** Base error of viewtally: `retriable` tells the job whether to back off and retry or to stop. */
export class ViewtallyError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A message or record that cannot be decoded or fails validation; names the field at fault. */
export class InvalidEventError extends ViewtallyError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, cause?: unknown) {
    super(message, { retriable: false, cause });
    this.field = field;
  }
}

/** A sink (Redis, ClickHouse) could not be reached or refused a write that may succeed later. */
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
