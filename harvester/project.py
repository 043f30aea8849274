"""The project: its harvester.toml (here or in a folder above), and its spiders, found in
the modules `[project].spiders` names."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from harvester.config import Settings
from harvester.exceptions import ConfigError, SpiderLoadError, SpiderNotFound
from harvester.spider import Spider

CONFIG_NAME = "harvester.toml"


def find_config(start: Path | None = None) -> Path | None:
    """The harvester.toml of the project holding `start` (default: the current directory):
    in it or in the nearest folder above that has one, as Scrapy finds scrapy.cfg."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def use_project_path(settings: Settings) -> None:
    """Make the project's own modules (spiders, pipelines) importable."""
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)


def require_config(command: str) -> Path:
    """The project's harvester.toml, or a one-line error saying `harvester COMMAND` needs one."""
    found = find_config()
    if found is None:
        raise ConfigError(
            f"no {CONFIG_NAME} in {Path.cwd()} or any folder above: `harvester {command}` needs a project "
            "(run it in one, pass --config PATH, or make one with `harvester startproject NAME`)"
        )
    return found


def find_spiders(settings: Settings) -> dict[str, type[Spider]]:
    """Every Spider subclass with a name, by name, from the project's spider modules. Two
    spiders with one name are refused (SpiderLoadError naming both files), as `crawl NAME`
    could not tell which one is meant."""
    use_project_path(settings)
    found: dict[str, type[Spider]] = {}
    for path in settings.project.spiders:
        for module in _modules(path):
            for obj in vars(module).values():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, Spider)
                    and obj.__module__ == module.__name__
                    and bool(getattr(obj, "name", ""))
                ):
                    first = found.setdefault(obj.name, obj)
                    if first is not obj:
                        raise SpiderLoadError(
                            f"two spiders are named {obj.name!r}: {_defined_in(first, settings.root)} and "
                            f"{_defined_in(obj, settings.root)}; give one another name"
                        )
    return found


def _defined_in(spider: type[Spider], root: Path) -> str:
    """`Class (spiders/file.py)`: where a spider class is written, relative to the project."""
    try:
        path = Path(inspect.getfile(spider)).resolve()
    except TypeError:
        return spider.__qualname__
    where = path.relative_to(root.resolve()) if path.is_relative_to(root.resolve()) else path
    return f"{spider.__qualname__} ({where})"


def get_spider(settings: Settings, name: str) -> type[Spider]:
    spiders = find_spiders(settings)
    if name not in spiders:
        known = ", ".join(sorted(spiders)) or "none"
        raise SpiderNotFound(f"no spider named {name!r} (found: {known})")
    return spiders[name]


def _modules(path: str) -> list[ModuleType]:
    module = _import(path)
    modules = [module]
    if hasattr(module, "__path__"):
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
            modules.append(_import(f"{path}.{info.name}"))
    return modules


def _import(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as exc:  # noqa: BLE001 - any failure at import is one clear line
        where = _where(exc)
        raise SpiderLoadError(f"spider module {path!r} failed to import{where}: {type(exc).__name__}: {exc}") from None


def _where(exc: BaseException) -> str:
    tb = exc.__traceback__
    frame = None
    while tb is not None:
        frame = tb
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({Path(exc.filename).name}, line {exc.lineno})"
    if frame is None:
        return ""
    return f" ({Path(frame.tb_frame.f_code.co_filename).name}, line {frame.tb_lineno})"


def spider_of_file(path: Path) -> tuple[str, type[Spider]]:
    """The one spider a Python file defines (`harvester runspider FILE`), and the name of the
    module it is imported as: the file's stem, with its folder first on the import path while
    it is imported (so it can import its neighbours)."""
    path = path.resolve()
    if not path.is_file():
        raise SpiderLoadError(f"no such file: {path}")
    module = path.stem
    if path.suffix != ".py" or not module.isidentifier():
        raise SpiderLoadError(f"{path.name}: expected a Python file whose name is an identifier, such as quotes.py")
    if shadows_module(path):
        raise SpiderLoadError(f"{path.name} has the name of the module {module!r}; rename the file")
    sys.path.insert(0, str(path.parent))  # for the import only, as Scrapy does: its neighbours may
    try:  # have the names of modules imported later
        loaded = _import(module)
    finally:
        sys.path.remove(str(path.parent))
    found = [
        obj
        for obj in vars(loaded).values()
        if inspect.isclass(obj)
        and issubclass(obj, Spider)
        and obj.__module__ == module
        and bool(getattr(obj, "name", ""))
    ]
    if len(found) != 1:
        names = ", ".join(cls.name for cls in found) or "none"
        raise SpiderLoadError(f"{path.name} must define one spider with a name (found: {names})")
    return module, found[0]


def shadows_module(path: Path) -> bool:
    """True when the file `path` (there or not yet) is named as a module of the standard
    library or one that imports from elsewhere: imported by its stem, it would be that one."""
    return path.stem in sys.stdlib_module_names or _elsewhere(path.stem, path)


def _elsewhere(module: str, path: Path) -> bool:
    """True when `module` imports (or was imported) from a file other than `path`."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    origin = spec.origin if spec is not None else None
    return bool(origin) and origin != "built-in" and Path(origin).resolve() != path  # type: ignore[arg-type]
