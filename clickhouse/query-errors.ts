import { ViewtallyError } from '../schemas/errors.ts';

/**
 * A dashboard or export request that can never succeed as asked: a reversed or too long range,
 * an unknown time zone, an id that is not an id. `parameter` names the input at fault, so the
 * read API can answer 400 with it; never retriable.
 */
export class InvalidQueryError extends ViewtallyError {
  readonly parameter: string;
  constructor(parameter: string, problem: string) {
    super(`${parameter}: ${problem}`, { retriable: false });
    this.parameter = parameter;
  }
}
