//! ECS deploy edge cases against the emulator (being written).
