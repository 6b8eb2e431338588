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
registerEnumType(ErrorCode, {
  name: 'ErrorCode',
  description: 'Why an input field was refused (UserError.code, ImportRejection.code). The message says what to fix.',
  valuesConfig: {
    REQUIRED: { description: 'Missing or empty.' },
    INVALID_FORMAT: { description: 'Not in the form or length the field takes.' },
    INVALID_CHECK_DIGIT: { description: 'A My Number or municipality code whose check digit is wrong: mistyped or misread.' },
    UNKNOWN_MUNICIPALITY: { description: 'A well-formed code that is no municipality in the national list; a ward of a designated city, where it is refused, names the city\'s code to give.' },
    INVALID_DATE: { description: 'Not a real date written YYYY-MM-DD, or outside the dates the field takes.' },
    DATE_IN_FUTURE: { description: 'After today in Japan (JST).' },
    DATE_BEFORE_BIRTH: { description: 'Before the resident\'s birth date.' },
    DUPLICATE: { description: 'Already exists (a login ID, addressee number, My Number, ticket number, contract or stop), or given twice in one list.' },
    NOT_FOUND: { description: 'No such row, or not the caller\'s: the two are not told apart.' },
    INVALID_STATE: { description: 'The row\'s state does not allow it (already disabled, already marked, ...), or the municipality is issuing or importing tickets: try again in a minute.' },
    INVALID_SERIES: { description: 'A ticket series that is no dose number or range, or starts after dose 9 or ends after dose 20.' },
    TICKET_VOID: { description: 'The ticket is void (for an officer\'s entry: the dose is dated after the day it was voided).' },
    DOSE_DIGIT_MISMATCH: { description: 'The OCR line\'s dose digit does not fit the ticket or the dose: misread?' },
    RESIDENT_MOVED_OUT: { description: 'The resident moved out (for a dated entry: the dose is after the move).' },
    RESIDENT_DECEASED: { description: 'The resident is recorded as deceased (for a dated entry: the dose is after the death).' },
    DOSE_NOT_NEXT: { description: 'The dose number is already recorded or would leave a gap; the message names the next dose.' },
    DOSE_NOT_IN_SERIES: { description: 'The ticket\'s series does not cover this dose number.' },
    DUPLICATE_DOSE: { description: 'The same dose on the same date is already recorded: registered twice?' },
    DATE_BEFORE_PREVIOUS_DOSE: { description: 'Not after the resident\'s previous dose; for a move out or death, before the last recorded dose.' },
    DATE_AFTER_NEXT_DOSE: { description: 'Not before the resident\'s following dose (a birth date: after the first recorded dose).' },
    INVALID_LOT_NUMBER: { description: 'Not 1 to 20 letters, digits or hyphens, as printed on the vial.' },
    UNKNOWN_VACCINE: { description: 'Not a code of the vaccines catalogue.' },
    IDEMPOTENCY_KEY_REUSED: { description: 'This idempotencyKey was used for a different dose, or for a dose its municipality has since removed.' },
    NOT_INTEGRATOR: { description: 'The account is not an INTEGRATOR account.' },
    OTHER_MUNICIPALITY: { description: 'An import row of another municipality: only the own municipality\'s residents are imported.' },
    PASSWORD_INCORRECT: { description: 'The current password is wrong (or the account is locked); counts towards the lockout.' },
    PASSWORD_UNCHANGED: { description: 'The new password is the current one.' },
  },
});

@ObjectType({ description: 'Why one input field was refused.' })
export class UserError {
  @Field(() => [String], { description: 'Path of the input field, e.g. ["input", "myNumber"].' })
  field: string[];

  @Field(() => ErrorCode, { description: 'Which rule the value broke.' })
  code: ErrorCode;

  @Field({ description: 'What is wrong and how to fix it, in plain English, e.g. "must be 12 digits".' })
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

/**
 * The answer to a request whose connection to the database was lost or could not be made (a
 * failover, a restart, a network reset): its transaction went with the connection.
 */
export const databaseUnavailable = () =>
  new GraphQLError('the connection to the database was lost; nothing of this request was written: send it again in a while', {
    extensions: { code: 'DATABASE_UNAVAILABLE', http: { status: 503 } },
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
