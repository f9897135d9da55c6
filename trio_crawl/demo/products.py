"""The demo catalogue's products: deterministic Matter products, one per serial.

Product number k (its *serial*, counted from the oldest, starting at 0) is generated from its own
`random.Random(f"{seed}:{k}")`, so it is the same whatever the catalogue's size: a catalogue of
4,000 products and one of 100,000 agree on their first 4,000. Products are generated on demand
(nothing is stored per product), which keeps a 100k-product catalogue cheap.
"""
from __future__ import annotations

import math
import random
import re
import unicodedata
from datetime import date, timedelta
from typing import Final

import attrs

PER_PAGE: Final = 12

#: The detail page's labels, in page order, with the `DemoProduct` attribute each one shows.
DETAIL_LABELS: Final[tuple[tuple[str, str], ...]] = (
    ("Certificate ID", "certificate_id"),
    ("Vendor ID", "vid_text"),
    ("Product ID", "pid_text"),
    ("Family Id", "family_id"),
    ("Family SKU", "family_sku"),
    ("Family Variant SKU", "family_variant_sku"),
    ("Firmware Version", "firmware_version"),
    ("Hardware Version", "hardware_version"),
    ("Software Version", "software_version"),
    ("Certification Date", "certification_date"),
    ("TIS/TRP Tested", "tis_trp_tested"),
    ("Specification Version", "specification_version"),
    ("Transport Interface", "transport_interface"),
    ("Primary Device Type Id", "primary_device_type_id"),
)

#: Labels that some products show only in the certificates table instead of the `li.item` rows.
TABLE_CANDIDATES: Final = (
    "Family Variant SKU",
    "Firmware Version",
    "Hardware Version",
    "Software Version",
    "Certification Date",
    "TIS/TRP Tested",
    "Specification Version",
    "Transport Interface",
)

DEVICE_TYPE_IDS: Final[dict[str, int]] = {
    "Door Lock": 0x000A,
    "Bridge": 0x000E,
    "Contact Sensor": 0x0015,
    "Air Purifier": 0x002D,
    "Robotic Vacuum Cleaner": 0x0074,
    "Smoke CO Alarm": 0x0076,
    "On/Off Light": 0x0100,
    "Dimmable Light": 0x0101,
    "Dimmer Switch": 0x0104,
    "Occupancy Sensor": 0x0107,
    "On/Off Plug-in Unit": 0x010A,
    "Color Temperature Light": 0x010C,
    "Extended Color Light": 0x010D,
    "Window Covering": 0x0202,
    "Thermostat": 0x0301,
    "Temperature Sensor": 0x0302,
    "Humidity Sensor": 0x0307,
}


@attrs.frozen
class _Line:
    model: str
    device_type: str
    transport: str


@attrs.frozen
class _Maker:
    name: str
    vid: int
    sku_prefix: str
    lines: tuple[_Line, ...]


def _maker(name: str, vid: int, sku: str, *lines: tuple[str, str, str]) -> _Maker:
    return _Maker(name, vid, sku, tuple(_Line(*line) for line in lines))


_WIFI, _THREAD, _ETH = "Wi-Fi", "Thread", "Ethernet"
_WIFI_BLE, _THREAD_BLE = "Wi-Fi, Bluetooth LE", "Thread, Bluetooth LE"

_MAKERS: Final = (
    _maker(
        "Eve Systems",
        0x130A,
        "EVE",
        ("Eve Energy", "On/Off Plug-in Unit", _THREAD),
        ("Eve Door & Window", "Contact Sensor", _THREAD),
        ("Eve Motion", "Occupancy Sensor", _THREAD),
        ("Eve Thermo", "Thermostat", _THREAD),
        ("Eve Weather", "Temperature Sensor", _THREAD),
        ("Eve MotionBlinds Upgrade Kit", "Window Covering", _THREAD_BLE),
    ),
    _maker(
        "Signify",
        0x100B,
        "HUE",
        ("Hue Bridge", "Bridge", _ETH),
        ("Hue White & Color Ambiance A19", "Extended Color Light", _THREAD),
        ("Hue White A19", "Dimmable Light", _THREAD),
        ("Hue White Ambiance GU10", "Color Temperature Light", _THREAD),
        ("Hue Lightstrip Plus", "Extended Color Light", _THREAD),
        ("WiZ Smart Plug", "On/Off Plug-in Unit", _WIFI),
    ),
    _maker(
        "IKEA of Sweden",
        0x117C,
        "IKEA",
        ("DIRIGERA Hub", "Bridge", _ETH),
        ("TRÅDFRI LED bulb E27 806 lm", "Dimmable Light", _THREAD),
        ("STARKVIND Air Purifier", "Air Purifier", _THREAD),
        ("FYRTUR Block-out Roller Blind", "Window Covering", _THREAD),
        ("PARASOLL Door/Window Sensor", "Contact Sensor", _THREAD),
        ("VINDSTYRKA Air Quality Sensor", "Temperature Sensor", _THREAD),
    ),
    _maker(
        "Aqara",
        0x115F,
        "AQ",
        ("Aqara Hub M3", "Bridge", "Ethernet, Wi-Fi"),
        ("Door and Window Sensor P2", "Contact Sensor", _THREAD),
        ("Motion and Light Sensor P2", "Occupancy Sensor", _THREAD),
        ("Smart Lock U200", "Door Lock", _THREAD_BLE),
        ("Roller Shade Driver E1", "Window Covering", _THREAD),
        ("Temperature and Humidity Sensor", "Temperature Sensor", _THREAD),
        ("Smoke Detector", "Smoke CO Alarm", _THREAD),
    ),
    _maker(
        "Nanoleaf",
        0x115A,
        "NL",
        ("Essentials A19 Bulb", "Extended Color Light", _THREAD_BLE),
        ("Essentials Lightstrip", "Extended Color Light", _THREAD_BLE),
        ("Essentials BR30 Downlight", "Extended Color Light", _THREAD_BLE),
        ("Smart Holiday String Lights", "Extended Color Light", _WIFI),
    ),
    _maker(
        "TP-Link",
        0x1392,
        "TPL",
        ("Tapo P125M Mini Smart Wi-Fi Plug", "On/Off Plug-in Unit", _WIFI_BLE),
        ("Kasa Smart Wi-Fi Plug Mini KP125M", "On/Off Plug-in Unit", _WIFI_BLE),
        ("Tapo L535E Smart Wi-Fi Light Bulb", "Extended Color Light", _WIFI_BLE),
        ("Tapo RV30 Max Plus Robot Vacuum", "Robotic Vacuum Cleaner", _WIFI),
        ("Kasa Smart Dimmer Switch KS225", "Dimmer Switch", _WIFI_BLE),
        ("Tapo H100 Smart Hub", "Bridge", _WIFI),
    ),
    _maker(
        "Tuya",
        0x125D,
        "TY",
        ("Smart Plug 16A", "On/Off Plug-in Unit", _WIFI_BLE),
        ("Smart Wi-Fi Thermostat", "Thermostat", _WIFI),
        ("LED Strip Controller RGBCW", "Extended Color Light", _WIFI_BLE),
        ("Smart Curtain Motor", "Window Covering", _WIFI),
        ("Temperature & Humidity Sensor", "Humidity Sensor", _THREAD),
        ("Zigbee Gateway", "Bridge", _ETH),
    ),
    _maker(
        "Leviton",
        0x109B,
        "LEV",
        ("Decora Smart Wi-Fi Dimmer D26HD", "Dimmable Light", _WIFI),
        ("Decora Smart Plug-in Switch D215P", "On/Off Plug-in Unit", _WIFI),
        ("Decora Smart Switch D215S", "On/Off Light", _WIFI),
    ),
    _maker(
        "Google",
        0x1217,
        "GA",
        ("Nest Hub (2nd gen)", "Bridge", _WIFI),
        ("Nest Learning Thermostat (4th gen)", "Thermostat", _WIFI),
        ("Nest Protect", "Smoke CO Alarm", _WIFI),
    ),
    _maker(
        "Amazon",
        0x1199,
        "AMZ",
        ("Echo (4th Gen)", "Bridge", _WIFI_BLE),
        ("Amazon Smart Plug", "On/Off Plug-in Unit", _WIFI),
        ("Amazon Smart Thermostat", "Thermostat", _WIFI),
    ),
    _maker(
        "Samsung SmartThings",
        0x10E1,
        "STS",
        ("SmartThings Station", "Bridge", _WIFI_BLE),
        ("SmartThings Multipurpose Sensor", "Contact Sensor", _THREAD),
        ("Jet Bot AI+", "Robotic Vacuum Cleaner", _WIFI),
        ("Bespoke AI Air Purifier", "Air Purifier", _WIFI),
    ),
    _maker(
        "Schneider Electric",
        0x105E,
        "SE",
        ("Wiser Smart Plug", "On/Off Plug-in Unit", _THREAD),
        ("Wiser Room Thermostat", "Thermostat", _THREAD),
        ("Wiser Odace Blind Switch", "Window Covering", _THREAD),
        ("Wiser Temperature Sensor", "Temperature Sensor", _THREAD),
    ),
    _maker(
        "Yale",
        0x101D,
        "YRD",
        ("Assure Lock 2", "Door Lock", _THREAD_BLE),
        ("Linus Smart Lock L2", "Door Lock", _WIFI_BLE),
    ),
    _maker(
        "SwitchBot",
        0x1397,
        "SB",
        ("SwitchBot Hub 2", "Bridge", _WIFI_BLE),
        ("SwitchBot Lock Pro", "Door Lock", _WIFI_BLE),
        ("SwitchBot Curtain 3", "Window Covering", _THREAD_BLE),
        ("SwitchBot Meter Pro", "Temperature Sensor", _THREAD_BLE),
    ),
    _maker(
        "Bosch",
        0x1209,
        "BSH",
        ("Smart Home Controller II", "Bridge", _ETH),
        ("Smoke Detector II", "Smoke CO Alarm", _THREAD),
        ("Room Thermostat II", "Thermostat", _THREAD),
    ),
    _maker(
        "Roborock",
        0x1359,
        "RR",
        ("S8 MaxV Ultra", "Robotic Vacuum Cleaner", _WIFI),
        ("Qrevo Curv", "Robotic Vacuum Cleaner", _WIFI),
    ),
    _maker(
        "Meross",
        0x1345,
        "MSS",
        ("Smart Wi-Fi Plug Mini MSS115", "On/Off Plug-in Unit", _WIFI_BLE),
        ("Smart Wi-Fi Thermostat MTS300", "Thermostat", _WIFI_BLE),
    ),
    _maker(
        "Level Home",
        0x1307,
        "LVL",
        ("Level Lock+", "Door Lock", _THREAD_BLE),
    ),
    _maker(
        "Coway",
        0x1331,
        "CW",
        ("Airmega 250S", "Air Purifier", _WIFI),
    ),
)

_SUFFIXES: Final = ("", "", "", "", " Gen 2", " (EU)", " (US)", " (UK)", " Pro", " 2-Pack", " V2")
_REGIONS: Final = ("EU", "US", "UK", "AU", "JP", "CN", "KR", "IN")
_HARDWARE: Final = ("1", "1.0", "2", "2.0", "A1", "P2", "v1.2", "REV-B")

#: Matter spec releases; a product certified on a date uses one released by then.
_SPEC_RELEASES: Final = (
    (date(2022, 10, 4), "1.0"),
    (date(2023, 5, 18), "1.1"),
    (date(2023, 10, 23), "1.2"),
    (date(2024, 5, 8), "1.3"),
    (date(2024, 11, 7), "1.4"),
)
_FIRST_DAY: Final = _SPEC_RELEASES[0][0]


@attrs.frozen
class DemoProduct:
    """One certified product, with every field as its detail page prints it.

    `vid_text` / `pid_text` are what the page shows (hex like ``0x131B`` or decimal); `vid` and
    `pid` are the integers a parser must recover. Optional fields are None when the page omits
    them. `table_fields` lists the labels shown only in the certificates table.
    """

    slug: str
    manufacturer: str
    model: str
    certificate_id: str
    device_type: str
    vid: int
    pid: int
    vid_text: str
    pid_text: str
    family_id: str
    family_sku: str
    family_variant_sku: str | None
    firmware_version: str
    hardware_version: str
    software_version: str
    certification_date: str
    tis_trp_tested: str | None
    specification_version: str
    transport_interface: str
    primary_device_type_id: str
    serial: int
    table_fields: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) for every field the detail page shows, in page order."""
        out = []
        for label, name in DETAIL_LABELS:
            value = getattr(self, name)
            if value is not None:
                out.append((label, value))
        return out


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens, as WordPress builds post slugs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def certification_day(serial: int) -> date:
    """The certification date of product `serial`: never earlier than an older product's.

    Logarithmic growth keeps even a 100k-product catalogue within a plausible decade.
    """
    return _FIRST_DAY + timedelta(days=int(700 * math.log1p(serial / 1000)))


def make_product(seed: int, serial: int) -> DemoProduct:
    """Product number `serial` (0 = oldest) of the catalogue with this seed."""
    rng = random.Random(f"{seed}:{serial}")
    maker = rng.choice(_MAKERS)
    line = rng.choice(maker.lines)
    model = line.model + rng.choice(_SUFFIXES)
    day = certification_day(serial)
    released = [version for since, version in _SPEC_RELEASES if since <= day]
    spec = rng.choice(released[-2:])

    vid, pid = maker.vid, rng.randint(1, 0xFFFF)
    vid_text = f"0x{vid:04X}" if rng.random() < 0.6 else str(vid)
    pid_text = f"0x{pid:04X}" if rng.random() < 0.6 else str(pid)
    mid = rng.randrange(1000)
    suffix = rng.randrange(20, 30)
    # 7919 is coprime with 100000, so the MAT number is unique for the first 100k serials.
    certificate_id = (
        f"CSA{day.year % 100:02d}{mid:03d}MAT{(40000 + serial * 7919) % 100000:05d}-{suffix}"
    )

    family_sku = f"{maker.sku_prefix}-{rng.randrange(100, 10000)}"
    has_variant = rng.random() >= 0.10
    family_variant_sku = f"{family_sku}-{rng.choice(_REGIONS)}" if has_variant else None
    has_tis = rng.random() >= 0.05
    tis_trp_tested = rng.choice(("Yes", "No")) if has_tis else None
    firmware = f"{rng.randint(1, 5)}.{rng.randint(0, 12)}.{rng.randint(0, 30)}"
    if rng.random() < 0.5:
        software = firmware
    else:
        software = str(rng.randint(1, 5) * 65536 + rng.randint(0, 4096))

    product = DemoProduct(
        slug=f"{slugify(maker.name)}-{slugify(model)}-{serial}",
        manufacturer=maker.name,
        model=model,
        certificate_id=certificate_id,
        device_type=line.device_type,
        vid=vid,
        pid=pid,
        vid_text=vid_text,
        pid_text=pid_text,
        family_id=str(rng.randrange(10000, 100000)),
        family_sku=family_sku,
        family_variant_sku=family_variant_sku,
        firmware_version=firmware,
        hardware_version=rng.choice(_HARDWARE),
        software_version=software,
        certification_date=day.isoformat(),
        tis_trp_tested=tis_trp_tested,
        specification_version=spec,
        transport_interface=line.transport,
        primary_device_type_id=f"0x{DEVICE_TYPE_IDS[line.device_type]:04X}",
        serial=serial,
    )
    if rng.random() < 0.20:
        present = [label for label, value in product.rows() if label in TABLE_CANDIDATES]
        chosen = set(rng.sample(present, k=min(len(present), rng.randint(1, 3))))
        product = attrs.evolve(
            product, table_fields=tuple(label for label in present if label in chosen)
        )
    return product
