import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reference data (prefectures, municipalities and their agreements), accounts, the tenant
 * tables (residents, tickets, vaccination records, data keys) and the audit trail.
 * Every tenant table leads its key with municipality_code so that it can be distributed
 * by municipality.
 */
export class Foundation1795392000000 implements MigrationInterface {
  name = 'Foundation1795392000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      -- JIS X 0402: 2-digit prefecture, 3 digits, check digit = last digit of 11 - (S mod 11).
      CREATE FUNCTION municipality_code_is_valid(code text) RETURNS boolean
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT CASE WHEN code ~ '^(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{4}$' THEN
          (11 - (substr(code, 1, 1)::int * 6 + substr(code, 2, 1)::int * 5 + substr(code, 3, 1)::int * 4
                 + substr(code, 4, 1)::int * 3 + substr(code, 5, 1)::int * 2) % 11) % 10 = substr(code, 6, 1)::int
        ELSE false END
      $$;

      CREATE TABLE prefecture (
        code char(2) NOT NULL,
        name text NOT NULL,
        CONSTRAINT prefecture_pk PRIMARY KEY (code),
        CONSTRAINT prefecture_code_format CHECK (code ~ '^(0[1-9]|[1-3][0-9]|4[0-7])$')
      );

      CREATE TABLE municipality (
        code char(6) NOT NULL,
        prefecture_code char(2) NOT NULL,
        name text NOT NULL,
        name_kana text NOT NULL,
        accepts_certificate_e_issuance boolean NOT NULL DEFAULT false,
        accepts_consentless_inquiry boolean NOT NULL DEFAULT false,
        CONSTRAINT municipality_pk PRIMARY KEY (code),
        CONSTRAINT municipality_code_valid CHECK (municipality_code_is_valid(code)),
        CONSTRAINT municipality_code_in_prefecture CHECK (substr(code, 1, 2) = prefecture_code),
        CONSTRAINT municipality_prefecture_fk FOREIGN KEY (prefecture_code) REFERENCES prefecture (code)
      );
      CREATE INDEX municipality_prefecture_idx ON municipality (prefecture_code);

      -- One data key per municipality, stored wrapped by the master key (AES-256-GCM).
      CREATE TABLE tenant_key (
        municipality_code char(6) NOT NULL,
        key_version integer NOT NULL DEFAULT 1,
        wrapped_key bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenant_key_pk PRIMARY KEY (municipality_code),
        CONSTRAINT tenant_key_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code)
      );

      CREATE TABLE account (
        id uuid NOT NULL,
        login_id text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL,
        municipality_code char(6),
        prefecture_code char(2),
        display_name text NOT NULL,
        disabled_at timestamptz,
        failed_login_count integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        last_login_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT account_pk PRIMARY KEY (id),
        CONSTRAINT account_login_id_key UNIQUE (login_id),
        CONSTRAINT account_login_id_format CHECK (login_id ~ '^[A-Za-z0-9._@-]{3,64}$'),
        CONSTRAINT account_role_valid CHECK (role IN ('MUNICIPALITY', 'VACCINATION_SITE', 'PREFECTURE', 'NATIONAL', 'INTEGRATOR', 'OPERATOR')),
        CONSTRAINT account_scope_matches_role CHECK (
          (role IN ('MUNICIPALITY', 'VACCINATION_SITE') AND municipality_code IS NOT NULL AND prefecture_code IS NULL)
          OR (role = 'PREFECTURE' AND prefecture_code IS NOT NULL AND municipality_code IS NULL)
          OR (role IN ('NATIONAL', 'INTEGRATOR', 'OPERATOR') AND municipality_code IS NULL AND prefecture_code IS NULL)),
        CONSTRAINT account_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code),
        CONSTRAINT account_prefecture_fk FOREIGN KEY (prefecture_code) REFERENCES prefecture (code)
      );

      CREATE TABLE resident (
        municipality_code char(6) NOT NULL,
        id uuid NOT NULL,
        addressee_number text NOT NULL,
        my_number_cipher bytea NOT NULL,
        my_number_hmac bytea NOT NULL,
        key_version integer NOT NULL,
        family_name text NOT NULL,
        given_name text NOT NULL,
        family_name_kana text NOT NULL,
        given_name_kana text NOT NULL,
        birth_date date NOT NULL,
        sex text NOT NULL,
        status text NOT NULL DEFAULT 'ACTIVE',
        moved_out_on date,
        moved_to_municipality_code char(6),
        deceased_on date,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT resident_pk PRIMARY KEY (municipality_code, id),
        CONSTRAINT resident_addressee_number_key UNIQUE (municipality_code, addressee_number),
        CONSTRAINT resident_my_number_hmac_key UNIQUE (municipality_code, my_number_hmac),
        CONSTRAINT resident_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code),
        CONSTRAINT resident_addressee_number_format CHECK (addressee_number ~ '^[0-9A-Za-z-]{1,20}$'),
        CONSTRAINT resident_my_number_hmac_length CHECK (octet_length(my_number_hmac) = 32),
        CONSTRAINT resident_names_present CHECK (
          length(family_name) BETWEEN 1 AND 50 AND length(given_name) BETWEEN 1 AND 50
          AND length(family_name_kana) BETWEEN 1 AND 50 AND length(given_name_kana) BETWEEN 1 AND 50),
        CONSTRAINT resident_sex_valid CHECK (sex IN ('MALE', 'FEMALE')),
        CONSTRAINT resident_status_consistent CHECK (
          (status = 'ACTIVE' AND moved_out_on IS NULL AND moved_to_municipality_code IS NULL AND deceased_on IS NULL)
          OR (status = 'MOVED_OUT' AND moved_out_on IS NOT NULL AND deceased_on IS NULL)
          OR (status = 'DECEASED' AND deceased_on IS NOT NULL)),
        CONSTRAINT resident_moved_to_valid CHECK (moved_to_municipality_code IS NULL OR municipality_code_is_valid(moved_to_municipality_code))
      );
      CREATE INDEX resident_kana_idx ON resident (municipality_code, (family_name_kana || given_name_kana) text_pattern_ops);
      CREATE INDEX resident_birth_date_idx ON resident (municipality_code, birth_date);

      CREATE TABLE ticket (
        municipality_code char(6) NOT NULL,
        id uuid NOT NULL,
        resident_id uuid NOT NULL,
        ticket_number char(10) NOT NULL,
        series text NOT NULL,
        issued_on date NOT NULL,
        voided_on date,
        void_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ticket_pk PRIMARY KEY (municipality_code, id),
        CONSTRAINT ticket_number_key UNIQUE (municipality_code, ticket_number),
        CONSTRAINT ticket_number_format CHECK (ticket_number ~ '^[0-9]{10}$'),
        CONSTRAINT ticket_void_consistent CHECK ((voided_on IS NULL) = (void_reason IS NULL)),
        CONSTRAINT ticket_resident_fk FOREIGN KEY (municipality_code, resident_id)
          REFERENCES resident (municipality_code, id) ON DELETE CASCADE
      );
      CREATE INDEX ticket_resident_idx ON ticket (municipality_code, resident_id);

      CREATE TABLE vaccination_record (
        municipality_code char(6) NOT NULL,
        id uuid NOT NULL,
        resident_id uuid NOT NULL,
        ticket_id uuid,
        dose_number smallint NOT NULL,
        vaccinated_on date NOT NULL,
        vaccine_code text NOT NULL,
        manufacturer text NOT NULL,
        product text NOT NULL,
        lot_number text NOT NULL,
        site_municipality_code char(6) NOT NULL,
        source text NOT NULL,
        status text NOT NULL DEFAULT 'COMPLETED',
        status_reason text,
        status_changed_at timestamptz,
        status_changed_by uuid,
        superseded_by uuid,
        recorded_by uuid,
        idempotency_key text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT vaccination_record_pk PRIMARY KEY (municipality_code, id),
        CONSTRAINT vaccination_record_resident_fk FOREIGN KEY (municipality_code, resident_id)
          REFERENCES resident (municipality_code, id) ON DELETE CASCADE,
        CONSTRAINT vaccination_record_ticket_fk FOREIGN KEY (municipality_code, ticket_id)
          REFERENCES ticket (municipality_code, id),
        CONSTRAINT vaccination_record_site_fk FOREIGN KEY (site_municipality_code) REFERENCES municipality (code),
        CONSTRAINT vaccination_record_dose_number_range CHECK (dose_number BETWEEN 1 AND 20),
        CONSTRAINT vaccination_record_lot_number_format CHECK (lot_number ~ '^[A-Za-z0-9-]{1,20}$'),
        CONSTRAINT vaccination_record_source_valid CHECK (source IN ('TABLET', 'OFFICER', 'CSV', 'INQUIRY')),
        CONSTRAINT vaccination_record_status_valid CHECK (status IN ('COMPLETED', 'ENTERED_IN_ERROR', 'SUPERSEDED')),
        CONSTRAINT vaccination_record_status_reason CHECK (status = 'COMPLETED' OR (status_reason IS NOT NULL AND status_changed_at IS NOT NULL))
      );
      CREATE UNIQUE INDEX vaccination_record_dose_key ON vaccination_record (municipality_code, resident_id, dose_number)
        WHERE status = 'COMPLETED';
      CREATE INDEX vaccination_record_resident_idx ON vaccination_record (municipality_code, resident_id);

      -- Operation log: no personal data values, only who did what to which ids.
      CREATE TABLE audit_event (
        id bigint GENERATED ALWAYS AS IDENTITY,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        request_id text,
        actor_id uuid,
        role text,
        channel text NOT NULL,
        municipality_code char(6),
        operation text NOT NULL,
        target_ids text[] NOT NULL DEFAULT '{}',
        outcome text NOT NULL,
        CONSTRAINT audit_event_pk PRIMARY KEY (id),
        CONSTRAINT audit_event_channel_valid CHECK (channel IN ('INTERNET', 'LGWAN', 'CLI')),
        CONSTRAINT audit_event_outcome_valid CHECK (outcome IN ('SUCCESS', 'DENIED', 'FAILURE'))
      );
      CREATE INDEX audit_event_municipality_idx ON audit_event (municipality_code, occurred_at);
      CREATE INDEX audit_event_occurred_idx ON audit_event (occurred_at);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE audit_event;
      DROP TABLE vaccination_record;
      DROP TABLE ticket;
      DROP TABLE resident;
      DROP TABLE account;
      DROP TABLE tenant_key;
      DROP TABLE municipality;
      DROP TABLE prefecture;
      DROP FUNCTION municipality_code_is_valid(text);
    `);
  }
}
