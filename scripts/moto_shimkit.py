"""What every moto shim shares: the error raised when moto moved something a shim patches, and
the lookup that raises it, so that a moto upgrade fails loudly at start-up naming the shim."""
import moto


class ShimError(RuntimeError):
    pass


def requirer(what, path):
    """`_require(owner, name)` for the shim `what` in `path`: the attribute, or a ShimError."""

    def _require(owner, name):
        if not hasattr(owner, name):
            raise ShimError(
                f"moto {moto.__version__}: {getattr(owner, '__name__', owner)}.{name} is gone; "
                f"{what} in {path} needs updating"
            )
        return getattr(owner, name)

    return _require
