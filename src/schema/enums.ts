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

registerEnumType(Role, {
  name: 'Role',
  description: 'What an account is for. Only the operator issues accounts; each role signs in only on its own channel(s).',
  valuesConfig: {
    MUNICIPALITY: { description: 'A municipality officer (市区町村): its own residents, tickets, records, pending doses, operation log and statistics. LG-WAN and internet; My Number and registry imports over LG-WAN only.' },
    VACCINATION_SITE: { description: 'A vaccination site\'s tablet: scans tickets and registers doses (scanTicket, registerDose). Internet only.' },
    PREFECTURE: { description: 'Prefectural staff (都道府県): statistics of its prefecture, its municipalities and the nation; no personal data. LG-WAN only.' },
    NATIONAL: { description: 'National government staff: statistics of any scope; no personal data. LG-WAN only.' },
    INTEGRATOR: { description: 'A reservation system: ticketEligibility for the municipalities that contracted it. Internet only.' },
    OPERATOR: { description: 'The system operator: accounts, integrator contracts, emergency stops, the operation log and security alerts. LG-WAN only.' },
  },
});
registerEnumType(Channel, {
  name: 'Channel',
  description: 'How a request reached the API: the listener it arrived on, never anything the client sends. A token works only on the channel it was issued on.',
  valuesConfig: {
    INTERNET: { description: 'The internet listener: tablets, integrators and municipality officers.' },
    LGWAN: { description: 'The LG-WAN listener (総合行政ネットワーク): municipalities, governments and the operator.' },
  },
});
registerEnumType(Sex, {
  name: 'Sex',
  description: 'Sex as the resident registry records it.',
  valuesConfig: { MALE: { description: 'Male (男).' }, FEMALE: { description: 'Female (女).' } },
});
registerEnumType(ResidentStatus, {
  name: 'ResidentStatus',
  description: 'Whether the resident still lives in the municipality.',
  valuesConfig: {
    ACTIVE: { description: 'Lives in the municipality; may be issued tickets.' },
    MOVED_OUT: { description: '転出: moved out (movedOutOn); the open tickets were voided.' },
    DECEASED: { description: '死亡: died (deceasedOn); the open tickets were voided.' },
  },
});

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

registerEnumType(ImportMode, {
  name: 'ImportMode',
  description: 'What an import does with rejected rows.',
  valuesConfig: {
    ABORT: { description: 'Writes nothing if any row is refused.' },
    SKIP: { description: 'Applies the accepted rows and reports the refused ones.' },
  },
});
registerEnumType(ImportStatus, {
  name: 'ImportStatus',
  description: 'Where an import job stands.',
  valuesConfig: {
    QUEUED: { description: 'Accepted, not started yet.' },
    RUNNING: { description: 'Under way: see phase and progress.' },
    SUCCEEDED: { description: 'Finished; the counts are final.' },
    FAILED: { description: 'Stopped; failureReason says why.' },
  },
});
registerEnumType(ImportPhase, {
  name: 'ImportPhase',
  description: 'What a RUNNING import is doing.',
  valuesConfig: {
    RECEIVING: { description: 'Reading, checking and staging rows.' },
    CHECKING: { description: 'Looking for duplicates and conflicts.' },
    MERGING: { description: 'Writing.' },
  },
});
