import { ErrorCode, ErrorCollector } from '../errors';
import { ResidentStatus } from '../schema/enums';
import { FIRST_VACCINATION_DAY, isFuture, isIsoDate, normaliseDate } from '../validation/dates';
import { charCount, nameCharactersProblem } from '../validation/identifiers';
import { checkLotNumber, seriesCovers } from '../validation/tickets';
import { vaccineByCode, VaccineProductInfo } from '../validation/vaccines';

/**
 * The dose rules of DESIGN.md §3, shared by tablet registration, officer entry, correction and
 * the matching of pending doses: caught at entry, each with its own code and the field at fault.
 */

export interface DoseInput {
  doseNumber: number;
  vaccinatedOn: string;
  vaccineCode: string;
  lotNumber: string;
  venue?: string | null;
  doctorName?: string | null;
}

export interface CheckedDose {
  doseNumber: number;
  vaccinatedOn: string;
  vaccine: VaccineProductInfo;
  lotNumber: string;
  /** 接種会場 and 医師名, when given (DESIGN.md §4.6). */
  venue: string | null;
  doctorName: string | null;
}

/** The longest venue and doctor's name kept (the database checks the same bounds). */
const MAX_VENUE = 100;
const MAX_DOCTOR_NAME = 50;

/** An optional free-text field: null when absent or blank, refused when too long or not plain text. */
function optionalText(errors: ErrorCollector, value: string | null | undefined, max: number, field: string[]): string | null {
  const text = value?.trim() ?? '';
  if (!text) return null;
  const problem = nameCharactersProblem(text);
  if (problem) errors.add(field, ErrorCode.INVALID_FORMAT, problem);
  else if (charCount(text) > max) errors.add(field, ErrorCode.INVALID_FORMAT, `must be at most ${max} characters`);
  return text;
}

/** A completed dose already on record. */
export interface PriorDose {
  id: string;
  doseNumber: number;
  vaccinatedOn: string;
  vaccineCode: string;
  manufacturer?: string;
}

export interface ResidentFacts {
  birthDate: string;
  status: ResidentStatus | string;
  movedOutOn: string | null;
  deceasedOn: string | null;
}

type Path = (field: keyof DoseInput) => string[];

/** Checks that need nothing but the input itself. */
export function checkDoseInput(errors: ErrorCollector, input: DoseInput, path: Path): CheckedDose | null {
  const out: Partial<CheckedDose> = {
    venue: optionalText(errors, input.venue, MAX_VENUE, path('venue')),
    doctorName: optionalText(errors, input.doctorName, MAX_DOCTOR_NAME, path('doctorName')),
  };
  if (!Number.isInteger(input.doseNumber) || input.doseNumber < 1 || input.doseNumber > 20) {
    errors.add(path('doseNumber'), ErrorCode.INVALID_FORMAT, 'must be a whole number from 1 to 20');
  } else out.doseNumber = input.doseNumber;
  const date = normaliseDate(String(input.vaccinatedOn ?? ''));
  if (!isIsoDate(date)) errors.add(path('vaccinatedOn'), ErrorCode.INVALID_DATE, 'must be a real date written YYYY-MM-DD');
  else if (isFuture(date)) errors.add(path('vaccinatedOn'), ErrorCode.DATE_IN_FUTURE, 'must not be in the future');
  else if (date < FIRST_VACCINATION_DAY) errors.add(path('vaccinatedOn'), ErrorCode.INVALID_DATE, `must not be before ${FIRST_VACCINATION_DAY}, when vaccination began`);
  else out.vaccinatedOn = date;
  const vaccine = vaccineByCode(String(input.vaccineCode ?? ''));
  if (!vaccine) errors.add(path('vaccineCode'), ErrorCode.UNKNOWN_VACCINE, 'is not a vaccine in the catalogue (see the `vaccines` query)');
  else out.vaccine = vaccine;
  const lot = checkLotNumber(String(input.lotNumber ?? ''));
  if (!lot.ok) errors.add(path('lotNumber'), ErrorCode.INVALID_LOT_NUMBER, lot.message);
  else out.lotNumber = lot.value;
  return out.doseNumber && out.vaccinatedOn && out.vaccine && out.lotNumber ? (out as CheckedDose) : null;
}

export interface HistoryOptions {
  /** The ticket's series, when the dose comes with a ticket. */
  series?: string;
  /** Tablet doses need a resident who still lives there; officer entries only a date before leaving. */
  requireActive: boolean;
  /** The record a correction replaces: it does not count against itself. */
  replacing?: string;
  /**
   * For a site, which never learns the birth date: a date before it is named only when nothing
   * else is wrong, so that a dose bound to fail cannot be used to search for the date.
   */
  birthDateHidden?: boolean;
}

type DatedDose = { doseNumber: number; vaccinatedOn: string };

/** A dose's date against the doses either side of it: after the one before, before the one after. `where` ends the message. */
export function checkDateOrder(errors: ErrorCollector, dose: CheckedDose, previous: DatedDose | undefined, following: DatedDose | undefined, field: string[], where = ''): void {
  if (previous && dose.vaccinatedOn <= previous.vaccinatedOn) {
    errors.add(field, ErrorCode.DATE_BEFORE_PREVIOUS_DOSE, `must be after dose ${previous.doseNumber} (${previous.vaccinatedOn})${where}`);
  } else if (following && dose.vaccinatedOn >= following.vaccinatedOn) {
    errors.add(field, ErrorCode.DATE_AFTER_NEXT_DOSE, `must be before dose ${following.doseNumber} (${following.vaccinatedOn})${where}`);
  }
}

/** Checks against the resident and the doses already on record. */
export function checkDoseHistory(
  errors: ErrorCollector, resident: ResidentFacts, history: PriorDose[], dose: CheckedDose, path: Path, options: HistoryOptions,
): void {
  if (options.requireActive && resident.status === ResidentStatus.MOVED_OUT) {
    errors.add(['ticket'], ErrorCode.RESIDENT_MOVED_OUT, 'the resident has moved out of the issuing municipality: this ticket can no longer be used');
  } else if (options.requireActive && resident.status === ResidentStatus.DECEASED) {
    errors.add(['ticket'], ErrorCode.RESIDENT_DECEASED, 'the ticket holder is recorded as deceased: check the ticket (misread?)');
  } else if (resident.movedOutOn && dose.vaccinatedOn > resident.movedOutOn) {
    errors.add(path('vaccinatedOn'), ErrorCode.RESIDENT_MOVED_OUT, 'is after the resident moved out');
  } else if (resident.deceasedOn && dose.vaccinatedOn > resident.deceasedOn) {
    errors.add(path('vaccinatedOn'), ErrorCode.RESIDENT_DECEASED, 'is after the resident\'s recorded death');
  }

  const others = history.filter((h) => h.id !== options.replacing);
  const next = others.reduce((max, h) => Math.max(max, h.doseNumber), 0) + 1;
  const same = others.find((h) => h.doseNumber === dose.doseNumber);
  if (same && same.vaccinatedOn === dose.vaccinatedOn && same.vaccineCode === dose.vaccine.code) {
    errors.add(path('doseNumber'), ErrorCode.DUPLICATE_DOSE, `dose ${dose.doseNumber} on ${dose.vaccinatedOn} is already recorded (registered twice?)`);
  } else if (same) {
    errors.add(path('doseNumber'), ErrorCode.DOSE_NOT_NEXT, `dose ${dose.doseNumber} is already recorded (on ${same.vaccinatedOn}); the next dose is ${next}`);
  } else if (dose.doseNumber > next) {
    errors.add(path('doseNumber'), ErrorCode.DOSE_NOT_NEXT, `would leave a gap: the next dose for this person is ${next}`);
  } else if (options.series && !seriesCovers(options.series, dose.doseNumber)) {
    errors.add(path('doseNumber'), ErrorCode.DOSE_NOT_IN_SERIES, `dose ${dose.doseNumber} is not covered by this ticket (series ${options.series})`);
  }

  const beforeBirth = dose.vaccinatedOn < resident.birthDate;
  const beforeBirthError = () => errors.add(path('vaccinatedOn'), ErrorCode.DATE_BEFORE_BIRTH, 'must not be before the birth date');
  if (beforeBirth && !options.birthDateHidden) {
    beforeBirthError();
    return;
  }
  const adjacent = (step: number) => others.find((h) => h.doseNumber === dose.doseNumber + step);
  checkDateOrder(errors, dose, adjacent(-1), adjacent(1), path('vaccinatedOn'));
  if (beforeBirth && errors.errors.length === 0) beforeBirthError();
}
