"""The sidecar's settings and counters come from one table each
(realtime/settings_table.py, realtime/counters_table.py): the docs, the
generated C headers, the checks, runsidecar's flags, stats() and /metrics."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase, override_settings
from realtime._sidecar import Server

from realtime import config, counters_table, settings_table, sidecar
from realtime.management.commands.runsidecar import Command

ROOT = Path(__file__).resolve().parent.parent


class SettingsTableTests(SimpleTestCase):
    def test_the_docs_table_is_the_table(self):
        text = (ROOT / settings_table.DOCS).read_text()
        shown = text.split(settings_table.DOCS_BEGIN + "\n", 1)[1].split(settings_table.DOCS_END)[0]
        self.assertEqual(
            shown,
            settings_table.docs_table(),
            "docs/operations.md is out of date: python3 -m realtime.settings_table",
        )

    def test_the_c_headers_are_generated_from_the_tables(self):
        gen = ROOT / "build" / "gen"
        self.assertEqual((gen / "ph_counters.def").read_text(), counters_table.c_def())
        built = (gen / "ph_settings.def").read_text()
        self.assertEqual(built, settings_table.c_def())
        for s in settings_table.SETTINGS:
            self.assertEqual(f"PH_SETTING({s.name}," in built, s.to_c, s.name)

    def test_defaults_and_checks(self):
        self.assertEqual(config.DEFAULTS["hard_msgs"], 1024)
        self.assertEqual(config.check("msg_rate", 5), 5.0)
        for name, bad in (
            ("msg_rate", -1),
            ("msg_rate", float("nan")),
            ("msg_burst", 0),
            ("msg_burst", 2.5),
            ("max_message", True),
            ("inbound_channel", ""),
            ("trusted_proxies", 7),
            ("no_such_setting", 1),
        ):
            with self.subTest(name=name, value=bad):
                with self.assertRaisesRegex(ImproperlyConfigured, name):
                    config.check(name, bad)
        with override_settings(PARTYHUB_SIDECAR={"hard_msg": 10}):
            with self.assertRaisesRegex(ImproperlyConfigured, "hard_msg"):
                sidecar.sidecar_kwargs()
        with override_settings(PARTYHUB_SIDECAR={"soft_msgs": 64}):
            self.assertEqual(sidecar.sidecar_kwargs()["soft_msgs"], 64)

    def test_the_server_takes_every_c_setting_in_its_range(self):
        for s in settings_table.SETTINGS:
            if not s.to_c:
                continue
            with self.subTest(setting=s.name):
                Server(host="127.0.0.1", port=0, **{s.name: s.default})
                if s.type != "str" and s.high < 2**31 - 2:
                    too_big = s.high + 1
                    with self.assertRaisesRegex(OSError, f"{s.name} out of range"):
                        Server(host="127.0.0.1", port=0, **{s.name: too_big})

    def test_runsidecar_has_a_flag_per_setting(self):
        parser = Command().create_parser("manage.py", "runsidecar")
        flags = {a.dest: a for a in parser._actions}
        for s in settings_table.SETTINGS:
            self.assertIn(s.name, flags)
            self.assertIn(f"--{s.name.replace('_', '-')}", flags[s.name].option_strings)
            self.assertIn(s.help, flags[s.name].help)


class CountersTableTests(SimpleTestCase):
    def test_stats_has_every_counter_and_the_docs_name_every_metric(self):
        stats = Server(host="127.0.0.1", port=0).stats()
        docs = (ROOT / "docs" / "operations.md").read_text()
        every = (*counters_table.COUNTERS, *counters_table.GAUGES, counters_table.WORKER_RESTARTS)
        for c in every:
            with self.subTest(counter=c.name):
                if c in counters_table.COUNTERS:
                    self.assertEqual(stats[c.name], 0)
                short = "`_" + c.metric.removeprefix("partyhub_sidecar_") + "`"
                self.assertTrue(f"`{c.metric}" in docs or short in docs, c.metric)
