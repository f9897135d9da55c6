-- A trio_crawl database of schema version 3 (Matter's own tables `products` and
-- `product_details`), written by trio_crawl at commit f474e39 (tests/stores/data/README.md).
BEGIN TRANSACTION;
CREATE TABLE catalogue_shape (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        base_url   TEXT,
        last_page  INTEGER NOT NULL,
        on_last    INTEGER NOT NULL,
        per_page   INTEGER NOT NULL,
        total      INTEGER NOT NULL,
        session_id TEXT,
        seen_at    TEXT    NOT NULL,
        -- where the catalogue's items are: products (Matter) or a site's own table
        record_table TEXT  NOT NULL DEFAULT 'products',
        -- how the site lists its items (newest_first, oldest_first, unordered): which site
        -- page shows a position
        ordering     TEXT  NOT NULL DEFAULT 'newest_first'
    );
INSERT INTO "catalogue_shape" VALUES(1,'https://matter.test',2,2,12,14,'s1','2026-12-07T19:11:18.448253+00:00','products','newest_first');
CREATE TABLE crawl_ledger (
        url           TEXT    PRIMARY KEY,
        item          TEXT    NOT NULL CHECK (item IN ('page', 'product')),
        page          INTEGER,
        total         INTEGER,
        page_id       INTEGER,
        index_in_page INTEGER,
        state         TEXT    NOT NULL
                      CHECK (state IN ('pending', 'done', 'failed', 'cancelled')),
        stage         TEXT,
        error_kind    TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        session_id    TEXT,
        updated_at    TEXT    NOT NULL
    ) WITHOUT ROWID
    ;
INSERT INTO "crawl_ledger" VALUES('1','page','https://matter.test/list/1',14,NULL,NULL,'pending',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448253+00:00');
INSERT INTO "crawl_ledger" VALUES('2','page','https://matter.test/list/2',14,NULL,NULL,'pending',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448253+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p00/','product',NULL,NULL,0,0,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p01/','product',NULL,NULL,0,1,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p02/','product',NULL,NULL,0,2,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p03/','product',NULL,NULL,0,3,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p04/','product',NULL,NULL,0,4,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p05/','product',NULL,NULL,0,5,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p06/','product',NULL,NULL,0,6,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p07/','product',NULL,NULL,0,7,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p08/','product',NULL,NULL,0,8,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p09/','product',NULL,NULL,0,9,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p10/','product',NULL,NULL,0,10,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p11/','product',NULL,NULL,0,11,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p12/','product',NULL,NULL,1,0,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "crawl_ledger" VALUES('https://matter.test/csa_product/p13/','product',NULL,NULL,1,1,'done',NULL,NULL,0,NULL,'s1','2026-12-07T19:11:18.448721+00:00');
CREATE TABLE crawl_runs (
        session_id      TEXT    PRIMARY KEY,
        status          TEXT    NOT NULL,
        started_at      TEXT    NOT NULL,
        finished_at     TEXT,
        pages_ok        INTEGER NOT NULL DEFAULT 0,
        pages_failed    INTEGER NOT NULL DEFAULT 0,
        products_saved  INTEGER NOT NULL DEFAULT 0,
        products_failed INTEGER NOT NULL DEFAULT 0,
        config_json     TEXT,
        error_json      TEXT
    , pid INTEGER, host TEXT, heartbeat_at TEXT, pages_cancelled INTEGER NOT NULL DEFAULT 0, products_cancelled INTEGER NOT NULL DEFAULT 0);
INSERT INTO "crawl_runs" VALUES('s1','completed','2026-12-07T19:11:18.447808+00:00','2026-12-07T19:11:18.449625+00:00',2,0,14,0,'{"crawl": {"strategy": "full"}}',NULL,11041,'vm','2026-12-07T19:11:18.447808+00:00',0,0);
INSERT INTO "crawl_runs" VALUES('s2','completed','2026-12-07T19:11:18.449829+00:00','2026-12-07T19:11:18.450867+00:00',2,0,0,0,'{"crawl": {"strategy": "full"}}',NULL,11041,'vm','2026-12-07T19:11:18.449829+00:00',0,0);
CREATE TABLE product_details (
        url                    TEXT    PRIMARY KEY REFERENCES products (url),
        page_id                INTEGER NOT NULL,
        index_in_page          INTEGER NOT NULL,
        id                     TEXT    NOT NULL,
        manufacturer           TEXT,
        model                  TEXT,
        device_type            TEXT,
        certificate_id         TEXT,
        certification_date     TEXT,
        software_version       TEXT,
        hardware_version       TEXT,
        firmware_version       TEXT,
        specification_version  TEXT,
        vid                    INTEGER,
        pid                    INTEGER,
        family_sku             TEXT,
        family_variant_sku     TEXT,
        family_id              TEXT,
        tis_trp_tested         TEXT,
        transport_interface    TEXT,
        primary_device_type_id TEXT,
        program_type           TEXT,
        created_at             TEXT    NOT NULL,
        updated_at             TEXT    NOT NULL
    );
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p00/',0,0,'p0000i00','Maker 0','Detail model 0','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4096,0,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p01/',0,1,'p0000i01','Maker 1','Detail model 1','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4097,1,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p02/',0,2,'p0000i02','Maker 2','Detail model 2','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4098,2,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p03/',0,3,'p0000i03','Maker 3','Detail model 3','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4099,3,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p04/',0,4,'p0000i04','Maker 4','Detail model 4','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4100,4,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p05/',0,5,'p0000i05','Maker 5','Detail model 5','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4101,5,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p06/',0,6,'p0000i06','Maker 6','Detail model 6','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4102,6,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p07/',0,7,'p0000i07','Maker 7','Detail model 7','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4103,7,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p08/',0,8,'p0000i08','Maker 8','Detail model 8','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4104,8,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p09/',0,9,'p0000i09','Maker 9','Detail model 9','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4105,9,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p10/',0,10,'p0000i10','Maker 10','Detail model 10','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4106,10,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p11/',0,11,'p0000i11','Maker 11','Detail model 11','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4107,11,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p12/',1,0,'p0001i00','Maker 12','Detail model 12','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4108,12,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
INSERT INTO "product_details" VALUES('https://matter.test/csa_product/p13/',1,1,'p0001i01','Maker 13','Detail model 13','Light',NULL,NULL,NULL,NULL,'1.0',NULL,4109,13,NULL,NULL,NULL,NULL,NULL,NULL,'Matter','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00');
CREATE TABLE products (
        url            TEXT    PRIMARY KEY,
        manufacturer   TEXT    NOT NULL,
        model          TEXT    NOT NULL,
        certificate_id TEXT    NOT NULL,
        page_id        INTEGER NOT NULL,
        index_in_page  INTEGER NOT NULL,
        id             TEXT    NOT NULL,
        created_at     TEXT    NOT NULL,
        updated_at     TEXT    NOT NULL
    , listed_at TEXT, delisted_at TEXT);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p00/','Maker 0','Model 0','CSA00000',0,0,'p0000i00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p01/','Maker 1','Model 1','CSA00001',0,1,'p0000i01','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p02/','Maker 2','Model 2','CSA00002',0,2,'p0000i02','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p03/','Maker 3','Model 3','CSA00003',0,3,'p0000i03','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p04/','Maker 4','Model 4','CSA00004',0,4,'p0000i04','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p05/','Maker 5','Model 5','CSA00005',0,5,'p0000i05','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00');
INSERT INTO "products" VALUES('https://matter.test/csa_product/p06/','Maker 6','Model 6','CSA00006',0,6,'p0000i06','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p07/','Maker 7','Model 7','CSA00007',0,7,'p0000i07','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p08/','Maker 8','Model 8','CSA00008',0,8,'p0000i08','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p09/','Maker 9','Model 9','CSA00009',0,9,'p0000i09','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p10/','Maker 10','Model 10','CSA00010',0,10,'p0000i10','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p11/','Maker 11','Model 11','CSA00011',0,11,'p0000i11','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p12/','Maker 12','Model 12','CSA00012',1,0,'p0001i00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
INSERT INTO "products" VALUES('https://matter.test/csa_product/p13/','Maker 13','Model 13','CSA00013',1,1,'p0001i01','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.448721+00:00','2026-12-07T19:11:18.450173+00:00',NULL);
CREATE UNIQUE INDEX products_position ON products (page_id, index_in_page) WHERE delisted_at IS NULL;
CREATE INDEX product_details_position ON product_details (page_id, index_in_page);
COMMIT;
PRAGMA application_id = 1953645426;
PRAGMA user_version = 3;
