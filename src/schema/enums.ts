import { registerEnumType } from 'type-graphql';

export enum Role {
  MUNICIPALITY = 'MUNICIPALITY',
  VACCINATION_SITE = 'VACCINATION_SITE',
  PREFECTURE = 'PREFECTURE',
  NATIONAL = 'NATIONAL',
  INTEGRATOR = 'INTEGRATOR',
  OPERATOR = 'OPERATOR',
}

/** How a request reached the API. Decided by the listener it arrived on, never by the client. */
export enum Channel {
  INTERNET = 'INTERNET',
  LGWAN = 'LGWAN',
}

export enum Sex {
  MALE = 'MALE',
  FEMALE = 'FEMALE',
}

export enum ResidentStatus {
  ACTIVE = 'ACTIVE',
  MOVED_OUT = 'MOVED_OUT',
  DECEASED = 'DECEASED',
}

registerEnumType(Role, { name: 'Role' });
registerEnumType(Channel, { name: 'Channel' });
registerEnumType(Sex, { name: 'Sex' });
registerEnumType(ResidentStatus, { name: 'ResidentStatus' });

/** What an import does with rejected rows: ABORT writes nothing if any row is refused; SKIP applies the rest. */
export enum ImportMode {
  ABORT = 'ABORT',
  SKIP = 'SKIP',
}

export enum ImportStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}

/** RECEIVING: reading, checking and staging rows; CHECKING: duplicates and conflicts; MERGING: writing. */
export enum ImportPhase {
  RECEIVING = 'RECEIVING',
  CHECKING = 'CHECKING',
  MERGING = 'MERGING',
}

registerEnumType(ImportMode, { name: 'ImportMode' });
registerEnumType(ImportStatus, { name: 'ImportStatus' });
registerEnumType(ImportPhase, { name: 'ImportPhase' });
