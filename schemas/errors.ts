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
