import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Vaccination workflow: tablet idempotency, doses waiting for their ticket to be registered
 * (接種対象者登録待ち), and integrator contracts. Existing columns of ticket and
 * vaccination_record stay as they are; only indexes and constraints are added to them.
 */
export class VaccinationWorkflow1795400000000 implements MigrationInterface {
  name = 'VaccinationWorkflow1795400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      -- Open tickets of a resident are voided on move-out/death; this finds them without a scan.
      CREATE INDEX ticket_open_resident_idx ON ticket (municipality_code, resident_id) WHERE voided_on IS NULL;

      -- A record keeps the request key of the tablet that sent it, once per account.
      CREATE UNIQUE INDEX vaccination_record_idempotency_key ON vaccination_record (municipality_code, recorded_by, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      ALTER TABLE vaccination_record ADD CONSTRAINT vaccination_record_superseded_consistent
        CHECK (superseded_by IS NULL OR status = 'SUPERSEDED');

      -- One row per tablet request key. Claimed first in the registering transaction, so a
      -- concurrent retry waits on the unique key and then reads the first result.
      CREATE TABLE tablet_registration (
        account_id uuid NOT NULL,
        idempotency_key text NOT NULL,
        id uuid NOT NULL,
        request_hash text NOT NULL,
        municipality_code char(6) NOT NULL,
        vaccination_record_id uuid,
        pending_dose_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tablet_registration_pk PRIMARY KEY (account_id, idempotency_key),
        CONSTRAINT tablet_registration_id_key UNIQUE (id),
        CONSTRAINT tablet_registration_account_fk FOREIGN KEY (account_id) REFERENCES account (id),
        CONSTRAINT tablet_registration_key_format CHECK (idempotency_key ~ '^[A-Za-z0-9._:-]{8,100}$'),
        CONSTRAINT tablet_registration_one_target CHECK ((vaccination_record_id IS NULL) <> (pending_dose_id IS NULL))
      );

      -- A dose given on a well-formed ticket of a real municipality that has not registered the
      -- ticket yet. Kept in the issuing municipality's tenant until matched or resolved.
      CREATE TABLE pending_dose (
        municipality_code char(6) NOT NULL,
        id uuid NOT NULL,
        ticket_number char(10) NOT NULL,
        dose_number smallint NOT NULL,
        vaccinated_on date NOT NULL,
        vaccine_code text NOT NULL,
        manufacturer text NOT NULL,
        product text NOT NULL,
        lot_number text NOT NULL,
        site_municipality_code char(6) NOT NULL,
        recorded_by uuid NOT NULL,
        idempotency_key text,
        status text NOT NULL DEFAULT 'PENDING',
        match_problem text,
        vaccination_record_id uuid,
        resolved_at timestamptz,
        resolved_by uuid,
        resolution_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pending_dose_pk PRIMARY KEY (municipality_code, id),
        CONSTRAINT pending_dose_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code),
        CONSTRAINT pending_dose_site_fk FOREIGN KEY (site_municipality_code) REFERENCES municipality (code),
        CONSTRAINT pending_dose_ticket_number_format CHECK (ticket_number ~ '^[0-9]{10}$'),
        CONSTRAINT pending_dose_dose_number_range CHECK (dose_number BETWEEN 1 AND 20),
        CONSTRAINT pending_dose_lot_number_format CHECK (lot_number ~ '^[A-Za-z0-9-]{1,20}$'),
        CONSTRAINT pending_dose_status_valid CHECK (status IN ('PENDING', 'MATCHED', 'DISMISSED')),
        CONSTRAINT pending_dose_status_consistent CHECK (
          (status = 'PENDING' AND vaccination_record_id IS NULL AND resolved_at IS NULL)
          OR (status = 'MATCHED' AND vaccination_record_id IS NOT NULL AND resolved_at IS NOT NULL)
          OR (status = 'DISMISSED' AND vaccination_record_id IS NULL AND resolved_at IS NOT NULL AND resolution_reason IS NOT NULL))
      );
      CREATE INDEX pending_dose_ticket_idx ON pending_dose (municipality_code, ticket_number) WHERE status = 'PENDING';
      CREATE INDEX pending_dose_status_idx ON pending_dose (municipality_code, status, created_at);

      -- Which municipalities contracted which reservation-system integrator.
      CREATE TABLE integrator_contract (
        municipality_code char(6) NOT NULL,
        integrator_account_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by uuid,
        CONSTRAINT integrator_contract_pk PRIMARY KEY (municipality_code, integrator_account_id),
        CONSTRAINT integrator_contract_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code),
        CONSTRAINT integrator_contract_account_fk FOREIGN KEY (integrator_account_id) REFERENCES account (id)
      );
      CREATE INDEX integrator_contract_account_idx ON integrator_contract (integrator_account_id);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE integrator_contract;
      DROP TABLE pending_dose;
      DROP TABLE tablet_registration;
      ALTER TABLE vaccination_record DROP CONSTRAINT vaccination_record_superseded_consistent;
      DROP INDEX vaccination_record_idempotency_key;
      DROP INDEX ticket_open_resident_idx;
    `);
  }
}
