import 'reflect-metadata';
import { GraphQLError } from 'graphql';
import { Field, ObjectType, registerEnumType } from 'type-graphql';

/** Every reason the API gives for refusing input. Clients switch on these, so they are stable. */
export enum ErrorCode {
  REQUIRED = 'REQUIRED',
  INVALID_FORMAT = 'INVALID_FORMAT',
  INVALID_CHECK_DIGIT = 'INVALID_CHECK_DIGIT',
  UNKNOWN_MUNICIPALITY = 'UNKNOWN_MUNICIPALITY',
  INVALID_DATE = 'INVALID_DATE',
  DATE_IN_FUTURE = 'DATE_IN_FUTURE',
  DATE_BEFORE_BIRTH = 'DATE_BEFORE_BIRTH',
  DUPLICATE = 'DUPLICATE',
  NOT_FOUND = 'NOT_FOUND',
  INVALID_STATE = 'INVALID_STATE',
  // Vaccination workflow: each refusal names what the site or officer has to fix.
  INVALID_SERIES = 'INVALID_SERIES',
  TICKET_VOID = 'TICKET_VOID',
  DOSE_DIGIT_MISMATCH = 'DOSE_DIGIT_MISMATCH',
  RESIDENT_MOVED_OUT = 'RESIDENT_MOVED_OUT',
  RESIDENT_DECEASED = 'RESIDENT_DECEASED',
  DOSE_NOT_NEXT = 'DOSE_NOT_NEXT',
  DOSE_NOT_IN_SERIES = 'DOSE_NOT_IN_SERIES',
  DUPLICATE_DOSE = 'DUPLICATE_DOSE',
  DATE_BEFORE_PREVIOUS_DOSE = 'DATE_BEFORE_PREVIOUS_DOSE',
  DATE_AFTER_NEXT_DOSE = 'DATE_AFTER_NEXT_DOSE',
  INVALID_LOT_NUMBER = 'INVALID_LOT_NUMBER',
  UNKNOWN_VACCINE = 'UNKNOWN_VACCINE',
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  NOT_INTEGRATOR = 'NOT_INTEGRATOR',
  OTHER_MUNICIPALITY = 'OTHER_MUNICIPALITY',
  // Password change: a wrong current password and a locked account are not told apart.
  PASSWORD_INCORRECT = 'PASSWORD_INCORRECT',
  PASSWORD_UNCHANGED = 'PASSWORD_UNCHANGED',
}
registerEnumType(ErrorCode, { name: 'ErrorCode' });

@ObjectType({ description: 'Why one input field was refused.' })
export class UserError {
  @Field(() => [String], { description: 'Path of the input field, e.g. ["input", "myNumber"].' })
  field: string[];

  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field()
  message: string;
}

/** Bad input found by a service; the resolver turns it into a payload's userErrors. */
export class InputError extends Error {
  constructor(readonly errors: UserError[]) {
    super(errors.map((e) => `${e.field.join('.')}: ${e.message}`).join('; '));
  }

  static of(field: string[], code: ErrorCode, message: string): InputError {
    return new InputError([{ field, code, message }]);
  }
}

/** Collects field errors so a request reports all of them at once, not the first only. */
export class ErrorCollector {
  readonly errors: UserError[] = [];

  add(field: string[], code: ErrorCode, message: string): void {
    this.errors.push({ field, code, message });
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new InputError(this.errors);
  }
}

export const notAuthenticated = () =>
  new GraphQLError('Authentication required', { extensions: { code: 'UNAUTHENTICATED' } });

export const forbidden = () => new GraphQLError('Not authorised', { extensions: { code: 'FORBIDDEN' } });

/** The refusal of what the caller's account may do over LG-WAN but not on the internet channel. */
export const lgwanOnly = () =>
  new GraphQLError('Not authorised on the internet channel: My Number, and what carries it (registry imports and their reports), is reached over LG-WAN only', {
    extensions: { code: 'FORBIDDEN' },
  });

/** The refusal of everything but changePassword and viewer while the account holds the password the operator issued. */
export const passwordChangeRequired = () =>
  new GraphQLError('Change the password the account was issued with (changePassword) before anything else', {
    extensions: { code: 'PASSWORD_CHANGE_REQUIRED' },
  });

/**
 * The answer to a request the database did not serve in time (DB_STATEMENT_TIMEOUT_SECONDS,
 * DB_CONNECTION_WAIT_SECONDS): the request's transaction was rolled back whole.
 */
export const databaseTimeout = () =>
  new GraphQLError('the database did not answer in time; nothing of this request was written: send it again in a while', {
    extensions: { code: 'DATABASE_TIMEOUT', http: { status: 503 } },
  });

/** The one answer for a row that is missing or belongs to someone else: it never says which. */
export const notFoundOrNoAccess = (field: string[]) =>
  InputError.of(field, ErrorCode.NOT_FOUND, 'not found or no access');

/** A bad argument of a query, as a GraphQL error naming it (`field`, the path) and why. */
export const badArgument = (field: string[], message: string, reason?: ErrorCode) =>
  new GraphQLError(`${field.join('.')}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', field, ...(reason ? { reason } : {}) } });

/** The answer to a cursor this API did not hand out. */
export const badCursor = () => badArgument(['after'], 'not a cursor returned by this API');

/** Refuses a page size `first` outside 1..max, naming the argument. */
export function checkPageSize(first: number, max: number): void {
  if (!Number.isInteger(first) || first < 1 || first > max) throw badArgument(['first'], `must be between 1 and ${max}`);
}

/** The error code for an identifier that failed its check: a wrong check digit or a wrong shape. */
export const identifierError = (reason: 'format' | 'checkDigit') =>
  (reason === 'checkDigit' ? ErrorCode.INVALID_CHECK_DIGIT : ErrorCode.INVALID_FORMAT);
